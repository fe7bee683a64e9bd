import { UnavailableError } from "../util/errors.ts";

/** Any value a Store keeps: plain data that survives JSON serialization unchanged. */
export type StoreValue = unknown;

export interface WriteOptions {
  /** Time to live in milliseconds; the entry disappears after it. Absent: kept until deleted. */
  ttlMs?: number;
}

/**
 * Durable state for the authorization server, sessions, events and tasks.
 *
 * Every adapter must give these guarantees (the contract suite in test/storage checks them):
 * - Each single operation is atomic and linearizable: with many callers on many instances,
 *   `take` hands a value to exactly one caller, `add` succeeds for exactly one, and
 *   `compareAndSet` succeeds for exactly one of several callers expecting the same value.
 * - Values are copies: mutating a value after `set` or after `get` changes nothing stored.
 * - An entry past its TTL is never returned, even if the adapter removes it later.
 * - Keys are opaque strings up to 512 bytes; values serialize to JSON.
 * - A key names either a value or a set of members, never both: adapters may share one
 *   namespace between them (Redis does), so using one key both ways is undefined.
 *
 * Eventually consistent engines (such as Workers KV) cannot give these guarantees; use them
 * only as caches.
 */
export interface Store {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: StoreValue, options?: WriteOptions): Promise<void>;
  /** Writes only when the key is absent; true when this call wrote it. */
  add(key: string, value: StoreValue, options?: WriteOptions): Promise<boolean>;
  /** True when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Reads and deletes in one step: a single-use value goes to one caller only. */
  take<T = unknown>(key: string): Promise<T | undefined>;
  /**
   * Replaces the value when the stored one equals `expected` (compared as JSON); `undefined`
   * expects the key to be absent. True when this call replaced it.
   */
  compareAndSet(
    key: string,
    expected: StoreValue | undefined,
    next: StoreValue,
    options?: WriteOptions,
  ): Promise<boolean>;
  /** Adds to a counter, creating it at 0 with the TTL when absent; returns the new count. */
  increment(key: string, by: number, options?: WriteOptions): Promise<number>;
  /**
   * Adds a member to the set at `key`, or replaces its TTL when present. Each member has its
   * own TTL (absent: kept until removed); a member past it is never listed. The set itself
   * has no TTL: it lasts while it has live members. An index, e.g. of a user's grants.
   */
  addMember(key: string, member: string, options?: WriteOptions): Promise<void>;
  /** Removes a member from the set at `key`; true when it was there and live. */
  removeMember(key: string, member: string): Promise<boolean>;
  /**
   * The live members of the set at `key`, in no particular order; empty when there is none.
   * Each call reads the whole set: keep sets to what one subject owns (hundreds, not millions).
   */
  members(key: string): Promise<string[]>;
}

/** Raised by an adapter whose engine cannot be reached; callers answer 503. */
export class StoreUnavailableError extends UnavailableError {
  declare readonly code: "ERR_STORE_UNAVAILABLE";

  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_STORE_UNAVAILABLE", message, options);
    this.name = "StoreUnavailableError";
  }
}
