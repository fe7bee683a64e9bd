/**
 * The client's DPoP key (RFC 9449): proofs for the resource server, signed with jose, and the
 * oauth4webapi handle that puts proofs on token requests; server nonces by origin.
 */
import { base64url, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import * as oauth from "oauth4webapi";
import { AuthorizationError } from "./errors.ts";

/** A key pair as the token store keeps it: the private JWK (public members included). */
export type StoredDpopKey = JWK;

const encoder = new TextEncoder();

/** The JWS algorithm of a Web Crypto key pair, for the proof header. */
function algorithmOf(key: CryptoKey): string {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  switch (algorithm.name) {
    case "ECDSA":
      return { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" }[algorithm.namedCurve!] ?? "";
    case "Ed25519":
      return "EdDSA";
    case "RSASSA-PKCS1-v1_5":
      return `RS${algorithm.hash?.name.slice(4) ?? ""}`;
    case "RSA-PSS":
      return `PS${algorithm.hash?.name.slice(4) ?? ""}`;
    default:
      return "";
  }
}

/** One key pair, its public JWK for proof headers, and its oauth4webapi handle. */
class DpopKey {
  readonly pair: CryptoKeyPair;
  readonly alg: string;
  readonly jwk: JWK;
  readonly handle: oauth.DPoPHandle;

  constructor(pair: CryptoKeyPair, alg: string, jwk: JWK) {
    this.pair = pair;
    this.alg = alg;
    this.jwk = jwk;
    this.handle = oauth.DPoP({}, pair);
  }

  static async of(pair: CryptoKeyPair): Promise<DpopKey> {
    const alg = algorithmOf(pair.privateKey);
    if (!alg) {
      throw new AuthorizationError(
        "ERR_DPOP_KEY",
        "The DPoP key must be an ECDSA, Ed25519 or RSA signing key pair",
      );
    }
    const { kty, crv, x, y, n, e } = await exportJWK(pair.publicKey);
    const jwk = Object.fromEntries(
      Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined),
    );
    return new DpopKey(pair, alg, jwk);
  }
}

/**
 * The authorizer's DPoP state: the key in use (the configured one, a generated ES256 one, or
 * the one stored with the tokens it loads), and the last nonce each resource origin sent.
 */
export class DpopState {
  readonly #given: CryptoKeyPair | undefined;
  #key: Promise<DpopKey> | undefined;
  /** The nonce each origin asked for last, for resource requests. */
  readonly #nonces = new Map<string, string>();

  constructor(given?: CryptoKeyPair) {
    this.#given = given;
  }

  /** The key in use, created on first need. */
  key(): Promise<DpopKey> {
    this.#key ??= (async () => {
      if (this.#given) return DpopKey.of(this.#given);
      const pair = await generateKeyPair("ES256", { extractable: true });
      return DpopKey.of(pair);
    })();
    return this.#key;
  }

  /** The oauth4webapi handle for token requests with the key in use. */
  async handle(): Promise<oauth.DPoPHandle> {
    return (await this.key()).handle;
  }

  /** The key in use as the token store keeps it; undefined when it cannot be exported. */
  async exportKey(): Promise<StoredDpopKey | undefined> {
    const { pair, alg } = await this.key();
    if (!pair.privateKey.extractable) return undefined;
    return { ...(await exportJWK(pair.privateKey)), alg };
  }

  /**
   * Uses the key stored with loaded tokens: they are bound to it, so a reloaded session
   * refreshes and proves with the same key.
   */
  async adopt(stored: StoredDpopKey | undefined): Promise<void> {
    if (!stored || this.#given) return;
    const current = await this.exportKey().catch(() => undefined);
    if (current && current.d === stored.d) return;
    const alg = stored.alg ?? "ES256";
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = stored;
    const privateKey = (await importJWK(stored, alg, { extractable: true })) as CryptoKey;
    const publicKey = (await importJWK(pub, alg, { extractable: true })) as CryptoKey;
    this.#key = DpopKey.of({ privateKey, publicKey });
  }

  /** Remembers the nonce a resource server sent; true when it is new. */
  rememberNonce(url: URL, nonce: string | null): boolean {
    if (!nonce) return false;
    if (this.#nonces.get(url.origin) === nonce) return false;
    this.#nonces.set(url.origin, nonce);
    return true;
  }

  /** A fresh proof for one request to a resource, bound to its access token (`ath`). */
  async proof(url: URL, method: string, accessToken: string): Promise<string> {
    const key = await this.key();
    const ath = base64url.encode(
      new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(accessToken))),
    );
    const claims: Record<string, string> = {
      htm: method,
      htu: `${url.origin}${url.pathname}`,
      ath,
    };
    const nonce = this.#nonces.get(url.origin);
    if (nonce) claims.nonce = nonce;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, typ: "dpop+jwt", jwk: key.jwk })
      .setIssuedAt()
      .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
      .sign(key.pair.privateKey);
  }
}

/**
 * Runs a token request once more when the server asks for a DPoP nonce (RFC 9449 §8): the
 * handle kept the nonce from the refusal, so the second proof carries it.
 */
export async function withNonceRetry<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return request();
  }
}
