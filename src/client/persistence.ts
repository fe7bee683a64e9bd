/**
 * Client state and OAuth tokens kept in a Store (src/storage), so that several agent processes
 * (over Redis) or Durable Objects share one session and one set of tokens, and refresh them
 * one at a time.
 */
import type { Store } from "../storage/store.ts";
import { randomToken, sha256 } from "../util/crypto.ts";
import { Sealer } from "../util/sealer.ts";
import { AuthorizationError } from "./oauth/errors.ts";
import type { IssuerRecord, TokenStore } from "./oauth/store.ts";
import { type ClientTimers, systemTimers } from "./retry.ts";
import type { ClientState, ClientStateStore } from "./state.ts";

export interface StoreTokenStoreOptions {
  /** Prepended to every key. Default "client-oauth:". */
  prefix?: string;
  /**
   * Encrypts every record (AES-256-GCM, key derived from this secret): tokens and client
   * secrets are then unreadable to whoever reads the Store. Recommended; give every process the
   * same secret. Without it, records are plain JSON.
   */
  key?: string;
  /** How long a refresh may hold the lock before another process may take it. Default 30 s. */
  lockTtlMs?: number;
  /** How long a process waits for the lock before ERR_LOCK_TIMEOUT. Default 30 s. */
  lockWaitMs?: number;
  /** How often a waiting process looks at the lock again. Default 50 ms. */
  pollMs?: number;
  /** What the waits use. Default real timers. */
  timers?: ClientTimers;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive finite number`);
  }
  return value;
}

/** Reads and writes JSON values, sealed when a key is given. */
function codec(key: string | undefined, purpose: string) {
  const sealer = key === undefined ? undefined : new Sealer(key, purpose);
  return {
    async write(value: unknown): Promise<unknown> {
      return sealer ? sealer.seal(JSON.stringify(value)) : value;
    },
    async read<T>(stored: unknown): Promise<T | undefined> {
      // Records are objects; a sealed string read without the key is none.
      if (!sealer) return typeof stored === "object" && stored !== null ? (stored as T) : undefined;
      if (typeof stored !== "string") return undefined;
      // A record sealed with another key (or altered) is as good as absent.
      const opened = await sealer.open(stored);
      return opened === undefined ? undefined : (JSON.parse(opened) as T);
    },
  };
}

/**
 * A TokenStore in a Store: registrations and tokens by issuer, shared by every process that
 * uses the same Store and prefix, with the lock the authorizer refreshes under (`add` with a
 * TTL, so a process that dies holding it delays the others by `lockTtlMs` at most; released
 * with `compareAndSet` to a tombstone, then deleted, so only by its holder).
 *
 * ```ts
 * const store = redisStore({ client: connectRedis(process.env.REDIS_URL!) });
 * const tokens = storeTokenStore(store, { key: process.env.TOKEN_KEY });
 * const authorizer = new OAuthAuthorizer({ tokens, redirect, discovery: discoveryCache({ store }) });
 * ```
 */
export function storeTokenStore(store: Store, options: StoreTokenStoreOptions = {}): TokenStore {
  if (options.key !== undefined && options.key.length < 16) {
    throw new TypeError("key must be at least 16 characters");
  }
  const prefix = options.prefix ?? "client-oauth:";
  const lockTtlMs = positive(options.lockTtlMs ?? 30_000, "lockTtlMs");
  const pollMs = positive(options.pollMs ?? 50, "pollMs");
  const tries = Math.ceil(positive(options.lockWaitMs ?? 30_000, "lockWaitMs") / pollMs);
  const timers = options.timers ?? systemTimers;
  const values = codec(options.key, "portcullis client token store");
  // Issuers are URLs of any length; Store keys stop at 512 bytes.
  const keyOf = async (kind: string, name: string) => `${prefix}${kind}:${await sha256(name)}`;
  return {
    async get(issuer) {
      return values.read<IssuerRecord>(await store.get(await keyOf("issuer", issuer)));
    },
    async set(issuer, record) {
      const key = await keyOf("issuer", issuer);
      if (record === undefined) await store.delete(key);
      else await store.set(key, await values.write(record));
    },
    async lock(name, run) {
      const key = await keyOf("lock", name);
      const owner = randomToken(12);
      for (let attempt = 0; !(await store.add(key, owner, { ttlMs: lockTtlMs })); attempt++) {
        if (attempt >= tries) {
          throw new AuthorizationError(
            "ERR_LOCK_TIMEOUT",
            "Another process has held the token refresh lock for too long",
          );
        }
        await timers.sleep(pollMs);
      }
      try {
        return await run();
      } finally {
        // Only our own lock: one that outlived its TTL may be another's by now. The Store has
        // no delete-if-equal: swap ours for a tombstone no one else can take, then delete that.
        const released = await store
          .compareAndSet(key, owner, `${owner}:released`, { ttlMs: lockTtlMs })
          .catch(() => false);
        if (released) await store.delete(key).catch(() => undefined);
      }
    },
  };
}

export interface StoreClientStateOptions {
  /** Prepended to the key. Default "client-state:". */
  prefix?: string;
  /** Forget the record this long after it was last written. Default: kept until deleted. */
  ttlMs?: number;
}

/**
 * A ClientStateStore in a Store under `key` (one per server and agent identity): a session a
 * process opened is taken up by the next, or by another process, sharing the same Store.
 */
export function storeClientState(
  store: Store,
  key: string,
  options: StoreClientStateOptions = {},
): ClientStateStore {
  if (key.length === 0 || key.length > 256) {
    throw new TypeError("key must be 1 to 256 characters");
  }
  const ttlMs = options.ttlMs === undefined ? undefined : positive(options.ttlMs, "ttlMs");
  const full = `${options.prefix ?? "client-state:"}${key}`;
  return {
    async get() {
      return store.get<ClientState>(full);
    },
    async set(state) {
      if (state === undefined) await store.delete(full);
      else await store.set(full, state, ttlMs === undefined ? {} : { ttlMs });
    },
  };
}
