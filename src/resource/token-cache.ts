import { base64url } from "jose";

/** Verified tokens kept by default per verifier. */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;

type HashFunction = (token: string) => string;

/** node:crypto's synchronous SHA-256 where the runtime offers it (Node, Bun, Deno; Workers with nodejs_compat). */
function nodeSha256(): HashFunction | undefined {
  const host = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } };
  let crypto: unknown;
  try {
    crypto = host.process?.getBuiltinModule?.("node:crypto");
  } catch {
    return undefined;
  }
  // The one-shot hash (Node 20.12+) makes no Hash object; createHash where it is missing.
  const hash = (crypto as { hash?: unknown } | undefined)?.hash;
  if (typeof hash === "function") {
    return (token) => hash("sha256", token, "base64url") as string;
  }
  const createHash = (crypto as { createHash?: unknown } | undefined)?.createHash;
  if (typeof createHash !== "function") return undefined;
  return (token) =>
    (
      createHash("sha256") as {
        update(data: string): { digest(encoding: "base64url"): string };
      }
    )
      .update(token)
      .digest("base64url");
}

let sha256: HashFunction | null | undefined;

/**
 * The SHA-256 digest of a token (base64url): the key a cache keeps it under, so no bearer
 * token sits in memory as a key. Synchronous where node:crypto is available (a WebCrypto
 * digest is a promise, which costs more than the hash), WebCrypto elsewhere.
 */
export function tokenDigest(token: string): string | Promise<string> {
  if (sha256 === undefined) sha256 = nodeSha256() ?? null;
  if (sha256) return sha256(token);
  return crypto.subtle
    .digest("SHA-256", new TextEncoder().encode(token))
    .then((digest) => base64url.encode(new Uint8Array(digest)));
}

/** Checks a cache size option at construction: a whole number, 0 (no cache) or more. */
export function cacheSize(value: number | undefined, name: string): number {
  if (value === undefined) return DEFAULT_TOKEN_CACHE_SIZE;
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new TypeError(`${name} must be a whole number of tokens, 0 (no cache) or more`);
  }
  return value;
}

/**
 * Verified tokens by digest, each until an instant (epoch ms), at most `size` of them: the
 * least recently used goes first, so a flood of distinct tokens cannot grow memory.
 */
export class VerifiedTokenCache<T> {
  readonly #size: number;
  readonly #entries = new Map<string, { value: T; until: number }>();

  constructor(size: number) {
    this.#size = size;
  }

  /** The entry under `key` while `now` is before its end; an ended entry is dropped. */
  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.until <= now) return undefined;
    // Re-inserted: a Map iterates in insertion order, so the first key is the least recent.
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: T, until: number): void {
    if (this.#size === 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#size) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, until });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
