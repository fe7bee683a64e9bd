import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from "jose";
import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { sha256 } from "../util/crypto.ts";
import { PortcullisError } from "../util/errors.ts";
import { type DpopNonceOptions, DpopNonces } from "./dpop-nonce.ts";

/** Asymmetric JWS algorithms a proof may use; never "none" or an HMAC. */
export const DPOP_ALGORITHMS = ["ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256"] as const;

const ASYMMETRIC = new Set<string>([
  ...DPOP_ALGORITHMS,
  "ES512",
  "RS384",
  "RS512",
  "PS384",
  "PS512",
]);

/** Members of a JWK that only a private (or symmetric) key has. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** A proof is a few hundred bytes; an RSA-4096 key in its header stays well under this. */
const MAX_PROOF_LENGTH = 8192;

/**
 * A refused DPoP proof: ERR_DPOP_PROOF (the wire's `invalid_dpop_proof`), or ERR_DPOP_NONCE
 * (`use_dpop_nonce`) with the nonce to use (RFC 9449 §7.1, §8). The message is for the reply's
 * `error_description`: it says what was wrong with the proof, never anything about the server.
 */
export class DpopProofError extends PortcullisError {
  declare readonly code: "ERR_DPOP_PROOF" | "ERR_DPOP_NONCE";
  /** With ERR_DPOP_NONCE: the nonce the client must put in its next proof. */
  readonly nonce: string | undefined;

  constructor(code: "ERR_DPOP_PROOF" | "ERR_DPOP_NONCE", message: string, nonce?: string) {
    super(code, message);
    this.name = "DpopProofError";
    this.nonce = nonce;
  }

  /** The error code RFC 9449 gives it on the wire. */
  get error(): "invalid_dpop_proof" | "use_dpop_nonce" {
    return this.code === "ERR_DPOP_NONCE" ? "use_dpop_nonce" : "invalid_dpop_proof";
  }
}

/** How DPoP proofs are checked, at the token endpoint or a resource. */
export interface DpopOptions {
  /** Proof algorithms accepted (asymmetric only). Default ES256, ES384, EdDSA, Ed25519, RS256, PS256. */
  algorithms?: readonly string[];
  /**
   * Seconds a proof is good for after its `iat`. Default 60. A proof whose `iat` is further
   * ahead than `clockToleranceSeconds` is refused too.
   */
  maxAgeSeconds?: number;
  /** Seconds a client's clock may run ahead of ours. Default 5. */
  clockToleranceSeconds?: number;
  /**
   * Require a server nonce in every proof (RFC 9449 §8, §9): true, or how nonces are keyed and
   * how long they last. Default off: `iat` and single-use `jti` alone bound a replay.
   */
  nonce?: boolean | DpopNonceOptions;
  /**
   * Accept DPoP-bound tokens only (RFC 9449 §7.1): a resource refuses Bearer tokens with a
   * DPoP-only challenge and says so in its metadata (`dpop_bound_access_tokens_required`); the
   * built-in token endpoint refuses token requests without a proof. Default false.
   */
  required?: boolean;
}

/** What one proof must match. */
export interface ProofRequest {
  /** The DPoP header as received (absent, or several joined by commas, is refused). */
  proof: string | null | undefined;
  method: string;
  /** The URL the request reached; query and fragment are ignored. */
  url: string;
  /** The access token the proof goes with: its hash must be the proof's `ath`. */
  accessToken?: string;
  /** The thumbprint the token is bound to (`cnf.jkt`): the proof's key must have it. */
  jkt?: string;
}

/** A proof that passed: its key's thumbprint, and a fresher nonce to hand out if one is due. */
export interface ProofResult {
  jkt: string;
  /** Set when nonces are on and the client's was the previous window's: send it as DPoP-Nonce. */
  nextNonce?: string;
}

/** Checks DPoP proofs; jti reuse is caught through the Store, so every instance sees it. */
export interface DpopVerifier {
  readonly algorithms: readonly string[];
  /** Whether proofs must carry a server nonce. */
  readonly requiresNonce: boolean;
  /** Whether only DPoP-bound tokens are accepted (`required`). */
  readonly required: boolean;
  /** The nonce to hand out now (only when nonces are on). */
  nonce(): Promise<string | undefined>;
  verify(request: ProofRequest): Promise<ProofResult>;
}

/** `origin + path` of a URL as RFC 3986 §6 normalizes it; undefined when it is not one. */
function htuOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

function seconds(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result < 0) {
    throw new TypeError(`dpop ${name} must be a number of seconds, 0 or more`);
  }
  return result;
}

/**
 * A DPoP proof verifier (RFC 9449 §4.3): one well-formed `dpop+jwt` signed with an accepted
 * asymmetric algorithm by the public key in its own header, `htm` and `htu` of this request,
 * `iat` within the window, `ath` of the access token, the key's thumbprint as the token's
 * `cnf.jkt`, the server nonce when nonces are on, and a `jti` never seen before within the
 * proof's lifetime (an atomic `add` in the Store, which expires with the proof).
 */
export function dpopVerifier(
  options: DpopOptions & {
    store: Store;
    clock?: Clock;
    /** Keeps this server's jti and nonces apart from another's in a shared Store. */
    label: string;
  },
): DpopVerifier {
  const algorithms = [...(options.algorithms ?? DPOP_ALGORITHMS)];
  if (!algorithms.length || algorithms.some((alg) => !ASYMMETRIC.has(alg))) {
    throw new TypeError(
      `dpop algorithms must name asymmetric JWS algorithms (${[...ASYMMETRIC].join(", ")})`,
    );
  }
  const maxAge = seconds("maxAgeSeconds", options.maxAgeSeconds, 60);
  const tolerance = seconds("clockToleranceSeconds", options.clockToleranceSeconds, 5);
  const clock = options.clock ?? systemClock;
  const store = options.store;
  const nonces = options.nonce
    ? new DpopNonces(options.label, options.nonce === true ? {} : options.nonce, clock)
    : undefined;
  if (options.required !== undefined && typeof options.required !== "boolean") {
    throw new TypeError("dpop.required must be a boolean");
  }
  const refuse = (message: string) => new DpopProofError("ERR_DPOP_PROOF", message);

  return {
    algorithms,
    requiresNonce: nonces !== undefined,
    required: options.required ?? false,
    nonce: async () => nonces?.current(),
    async verify(request) {
      const proof = request.proof;
      if (!proof) throw refuse("The request carries no DPoP proof");
      if (proof.length > MAX_PROOF_LENGTH) throw refuse("The DPoP proof is too large");
      if (proof.includes(",")) throw refuse("The request carries more than one DPoP proof");
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(proof);
      } catch {
        throw refuse("The DPoP proof is not a JWS in compact form");
      }
      if (header.typ !== "dpop+jwt") throw refuse('The DPoP proof\'s typ must be "dpop+jwt"');
      const alg = header.alg;
      if (typeof alg !== "string" || !algorithms.includes(alg)) {
        throw refuse(`The DPoP proof's alg must be one of ${algorithms.join(", ")}`);
      }
      const jwk = header.jwk as JWK | undefined;
      if (!jwk || typeof jwk !== "object" || Array.isArray(jwk)) {
        throw refuse("The DPoP proof's header has no jwk");
      }
      if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
        throw refuse("The DPoP proof's jwk must be a public key");
      }
      let claims: JWTPayload;
      try {
        const key = await importJWK(jwk, alg);
        ({ payload: claims } = await jwtVerify(proof, key, {
          algorithms: [alg],
          typ: "dpop+jwt",
          currentDate: new Date(clock()),
          clockTolerance: tolerance,
        }));
      } catch {
        throw refuse("The DPoP proof's signature does not verify with its jwk");
      }
      const { jti, htm, htu, iat, ath } = claims as Record<string, unknown>;
      if (typeof jti !== "string" || jti.length < 8 || jti.length > 256) {
        throw refuse("The DPoP proof needs a jti of 8 to 256 characters");
      }
      if (htm !== request.method) throw refuse("The DPoP proof is for another HTTP method");
      if (
        typeof htu !== "string" ||
        htuOf(htu) === undefined ||
        htuOf(htu) !== htuOf(request.url)
      ) {
        throw refuse("The DPoP proof is for another URL");
      }
      const now = clock() / 1000;
      if (typeof iat !== "number" || !Number.isFinite(iat)) {
        throw refuse("The DPoP proof has no iat");
      }
      if (iat > now + tolerance) throw refuse("The DPoP proof was issued in the future");
      if (iat < now - maxAge - tolerance) throw refuse("The DPoP proof is too old");
      if (request.accessToken !== undefined) {
        if (typeof ath !== "string" || ath !== (await sha256(request.accessToken))) {
          throw refuse("The DPoP proof's ath does not match the access token");
        }
      }
      let jkt: string;
      try {
        jkt = await calculateJwkThumbprint(jwk, "sha256");
      } catch {
        throw refuse("The DPoP proof's jwk is not a usable public key");
      }
      if (request.jkt !== undefined && jkt !== request.jkt) {
        throw refuse("The DPoP proof is signed by a key the access token is not bound to");
      }
      let nextNonce: string | undefined;
      if (nonces) {
        const verdict = await nonces.check(claims.nonce);
        if (verdict === "invalid") {
          throw new DpopProofError(
            "ERR_DPOP_NONCE",
            "The DPoP proof must carry the nonce this server issued",
            await nonces.current(),
          );
        }
        if (verdict === "previous") nextNonce = await nonces.current();
      }
      // Last, so a refused proof costs no write; kept as long as the proof could be accepted.
      const ttlMs = Math.ceil((maxAge + 2 * tolerance + 1) * 1000);
      const seen = `dpop:${options.label}:jti:${await sha256(`${jkt}.${jti}`)}`;
      if (!(await store.add(seen, 1, { ttlMs }))) {
        throw refuse("The DPoP proof was used before (its jti is not new)");
      }
      return nextNonce === undefined ? { jkt } : { jkt, nextNonce };
    },
  };
}
