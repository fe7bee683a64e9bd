import type { Store, WriteOptions } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";

/**
 * A cache: reads may be stale and concurrent writes race, so it offers no atomic operation.
 * Deliberately not a Store — nothing that must be single-use or compare-and-set can be put
 * in it by mistake.
 */
export interface Cache {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, options?: WriteOptions): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface KvCacheOptions {
  /** Prepended to every key, to share one namespace between uses. Default "". */
  prefix?: string;
  /** What TTLs shorter than KV's minimum are enforced by (epoch ms). Default Date.now. */
  clock?: Clock;
}

/** Workers KV refuses expirations closer than this; shorter TTLs are enforced on read. */
const KV_MIN_TTL_SECONDS = 60;

interface Envelope {
  /** The value. */
  v: unknown;
  /** Epoch ms after which it is stale; absent: no TTL. */
  e?: number;
}

/**
 * A cache in Workers KV, for data that tolerates eventual consistency: fetched client
 * metadata documents, JWKS and other published documents. KV reads can lag writes by up to
 * a minute in other locations, so it must never hold authorization codes, refresh tokens or
 * anything single-use — use `durableObjectStore()` for those. Entries past their TTL are
 * never returned, even before KV removes them.
 */
export function kvCache(kv: KVNamespace, options: KvCacheOptions = {}): Cache {
  const prefix = options.prefix ?? "";
  const clock = options.clock ?? systemClock;
  return {
    async get<T = unknown>(key: string) {
      const envelope = await kv.get<Envelope>(prefix + key, "json");
      if (!envelope || (envelope.e !== undefined && envelope.e <= clock())) return undefined;
      return envelope.v as T;
    },
    async set(key, value, options) {
      const ttlMs = options?.ttlMs;
      const envelope: Envelope =
        ttlMs === undefined ? { v: value } : { v: value, e: clock() + ttlMs };
      const put: KVNamespacePutOptions = {};
      if (ttlMs !== undefined) {
        put.expirationTtl = Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlMs / 1000));
      }
      await kv.put(prefix + key, JSON.stringify(envelope), put);
    },
    async delete(key) {
      await kv.delete(prefix + key);
    },
  };
}

export interface CachedStoreOptions {
  /**
   * Key prefixes whose get/set/delete go to the cache. Default: the authorization server's
   * client metadata document cache ("as:cimd:").
   */
  prefixes?: readonly string[];
}

function notAtomic(operation: string, key: string): never {
  throw new TypeError(
    `${operation}("${key}"): this key lives in an eventually consistent cache, which has no atomic operations; keep it out of the cache prefixes`,
  );
}

/**
 * A Store that keeps cache-friendly keys (by prefix) in a `Cache` such as `kvCache()` and
 * everything else in a strongly consistent Store such as `durableObjectStore()`. Atomic
 * operations (`add`, `take`, `compareAndSet`, `increment`) on a cached key throw: they would
 * silently lose their guarantee.
 */
export function cachedStore(store: Store, cache: Cache, options: CachedStoreOptions = {}): Store {
  const prefixes = options.prefixes ?? ["as:cimd:"];
  const cached = (key: string) => prefixes.some((prefix) => key.startsWith(prefix));
  return {
    get<T = unknown>(key: string) {
      return cached(key) ? cache.get<T>(key) : store.get<T>(key);
    },
    set: (key, value, options) =>
      cached(key) ? cache.set(key, value, options) : store.set(key, value, options),
    async delete(key) {
      if (!cached(key)) return store.delete(key);
      // Best effort, like everything in a cache: another location may still see the entry.
      const existed = (await cache.get(key)) !== undefined;
      await cache.delete(key);
      return existed;
    },
    async add(key, value, options) {
      return cached(key) ? notAtomic("add", key) : store.add(key, value, options);
    },
    async take<T = unknown>(key: string) {
      return cached(key) ? notAtomic("take", key) : store.take<T>(key);
    },
    async compareAndSet(key, expected, next, options) {
      return cached(key)
        ? notAtomic("compareAndSet", key)
        : store.compareAndSet(key, expected, next, options);
    },
    async increment(key, by, options) {
      return cached(key) ? notAtomic("increment", key) : store.increment(key, by, options);
    },
    async addMember(key, member, options) {
      return cached(key) ? notAtomic("addMember", key) : store.addMember(key, member, options);
    },
    async removeMember(key, member) {
      return cached(key) ? notAtomic("removeMember", key) : store.removeMember(key, member);
    },
    async members(key) {
      return cached(key) ? notAtomic("members", key) : store.members(key);
    },
  };
}
