import { exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Store } from "../storage/store.ts";
import { randomToken } from "../util/crypto.ts";

export type SigningAlgorithm = "ES256" | "RS256" | "EdDSA";

interface KeyRecord {
  kid: string;
  alg: SigningAlgorithm;
  privateJwk: JWK;
  publicJwk: JWK;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms after which the key is no longer published; absent while it is current. */
  retireAt?: number;
}

export interface KeyRingOptions {
  store: Store;
  alg?: SigningAlgorithm;
  /**
   * Private JWKs from configuration (e.g. Worker secrets), newest first. When given, the ring
   * uses them instead of generating keys, and rotation is done by changing the configuration.
   */
  keys?: readonly JWK[];
  /** How long a replaced key stays published, so tokens it signed still verify. */
  overlapMs: number;
}

const RING_KEY = "as:signing-keys";

interface LoadedKey {
  record: KeyRecord;
  privateKey: CryptoKey | Uint8Array;
  publicKey: CryptoKey | Uint8Array;
}

/**
 * The authorization server's signing keys. The newest key signs; older ones stay in the JWKS
 * until their overlap ends. Keys live in the Store so every instance signs with the same one.
 */
export class KeyRing {
  readonly #options: KeyRingOptions;
  readonly #alg: SigningAlgorithm;
  #loaded: Promise<LoadedKey[]> | undefined;

  constructor(options: KeyRingOptions) {
    this.#options = options;
    this.#alg = options.alg ?? "ES256";
  }

  get alg(): SigningAlgorithm {
    return this.#alg;
  }

  /** The key to sign with now. */
  async current(): Promise<LoadedKey> {
    const keys = await this.#keys();
    return keys[0]!;
  }

  /** Published public keys (the JWKS document). */
  async jwks(): Promise<{ keys: JWK[] }> {
    const now = Date.now();
    const keys = await this.#keys();
    return {
      keys: keys
        .filter((key) => key.record.retireAt === undefined || key.record.retireAt > now)
        .map((key) => key.record.publicJwk),
    };
  }

  /** The public key for a `kid`, reloading once from the Store for keys made elsewhere. */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | Uint8Array | undefined> {
    const find = (keys: LoadedKey[]) => keys.find((key) => key.record.kid === kid)?.publicKey;
    const found = find(await this.#keys());
    if (found || this.#options.keys) return found;
    this.#loaded = undefined;
    return find(await this.#keys());
  }

  /** Makes a new signing key; the old one stays published for the overlap. */
  async rotate(): Promise<void> {
    if (this.#options.keys) throw new Error("Configured keys rotate by changing the configuration");
    const store = this.#options.store;
    for (;;) {
      const current = (await store.get<KeyRecord[]>(RING_KEY)) ?? [];
      const now = Date.now();
      const retired = current
        .map((record) =>
          record.retireAt === undefined
            ? { ...record, retireAt: now + this.#options.overlapMs }
            : record,
        )
        .filter((record) => (record.retireAt ?? 0) > now);
      const next = [await this.#generate(), ...retired];
      if (await store.compareAndSet(RING_KEY, current.length ? current : undefined, next)) break;
    }
    this.#loaded = undefined;
  }

  #keys(): Promise<LoadedKey[]> {
    this.#loaded ??= this.#load().catch((error) => {
      this.#loaded = undefined;
      throw error;
    });
    return this.#loaded;
  }

  async #load(): Promise<LoadedKey[]> {
    const records = this.#options.keys
      ? await Promise.all(this.#options.keys.map((jwk) => this.#fromConfig(jwk)))
      : await this.#fromStore();
    return Promise.all(
      records.map(async (record) => ({
        record,
        privateKey: await importJWK(record.privateJwk, record.alg),
        publicKey: await importJWK(record.publicJwk, record.alg),
      })),
    );
  }

  async #fromStore(): Promise<KeyRecord[]> {
    const store = this.#options.store;
    const existing = await store.get<KeyRecord[]>(RING_KEY);
    if (existing?.length) return existing;
    // First start: one instance wins the race to create the key; the others read it.
    await store.add(RING_KEY, [await this.#generate()]);
    return (await store.get<KeyRecord[]>(RING_KEY)) ?? [];
  }

  async #fromConfig(jwk: JWK): Promise<KeyRecord> {
    const alg = (jwk.alg as SigningAlgorithm | undefined) ?? this.#alg;
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
    const kid = jwk.kid ?? randomToken(8);
    return {
      kid,
      alg,
      privateJwk: { ...jwk, kid, alg },
      publicJwk: { ...publicJwk, kid, alg, use: "sig" },
      createdAt: 0,
    };
  }

  async #generate(): Promise<KeyRecord> {
    const { privateKey, publicKey } = await generateKeyPair(this.#alg, { extractable: true });
    const kid = randomToken(12);
    return {
      kid,
      alg: this.#alg,
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: this.#alg },
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: this.#alg, use: "sig" },
      createdAt: Date.now(),
    };
  }
}

/** Generates a private JWK to put in configuration (e.g. `wrangler secret put`). */
export async function generateSigningKey(alg: SigningAlgorithm = "ES256"): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomToken(12), alg };
}
