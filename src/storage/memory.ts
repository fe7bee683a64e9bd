import { type Clock, systemClock } from "../util/clock.ts";
import type { Store, StoreValue, WriteOptions } from "./store.ts";

interface Entry {
  /** The value as JSON, so callers never share an object with the store. */
  json: string;
  /** Epoch ms, or Infinity. */
  expires: number;
}

export interface MemoryStoreOptions {
  /**
   * Entries kept at most, and sets kept at most; past this, expired ones are swept and then the
   * oldest written go.
   */
  maxEntries?: number;
  /** What entries expire by (epoch ms). Default Date.now. */
  clock?: Clock;
}

/**
 * The embedded Store: one process, atomic because JavaScript runs one callback at a time.
 * Every operation completes without yielding between its read and its write.
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const clock = options.clock ?? systemClock;
  const entries = new Map<string, Entry>();
  /** Sets, by key: each member with its expiry (epoch ms, or Infinity). */
  const sets = new Map<string, Map<string, number>>();

  /** The set at `key` with its expired members dropped; undefined when none is live. */
  const liveSet = (key: string): Map<string, number> | undefined => {
    const set = sets.get(key);
    if (!set) return undefined;
    const now = clock();
    for (const [member, expires] of set) if (expires <= now) set.delete(member);
    if (set.size === 0) sets.delete(key);
    return set.size ? set : undefined;
  };

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expires <= clock()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const write = (key: string, value: StoreValue, options: WriteOptions | undefined): void => {
    const expires =
      options?.ttlMs === undefined ? Number.POSITIVE_INFINITY : clock() + options.ttlMs;
    entries.delete(key);
    if (entries.size >= maxEntries) evict();
    entries.set(key, { json: JSON.stringify(value), expires });
  };

  const evict = (): void => {
    const now = clock();
    for (const [key, entry] of entries) if (entry.expires <= now) entries.delete(key);
    while (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
  };

  const read = <T>(entry: Entry | undefined): T | undefined =>
    entry === undefined ? undefined : (JSON.parse(entry.json) as T);

  return {
    async get<T = unknown>(key: string) {
      return read<T>(live(key));
    },
    async set(key, value, options) {
      write(key, value, options);
    },
    async add(key, value, options) {
      if (live(key)) return false;
      write(key, value, options);
      return true;
    },
    async delete(key) {
      return live(key) !== undefined && entries.delete(key);
    },
    async take<T = unknown>(key: string) {
      const entry = live(key);
      if (entry) entries.delete(key);
      return read<T>(entry);
    },
    async compareAndSet(key, expected, next, options) {
      const current = live(key);
      const matches =
        expected === undefined ? current === undefined : current?.json === JSON.stringify(expected);
      if (!matches) return false;
      write(key, next, options);
      return true;
    },
    async increment(key, by, options) {
      const current = live(key);
      const count = (current ? (JSON.parse(current.json) as number) : 0) + by;
      if (current) current.json = JSON.stringify(count);
      else write(key, count, options);
      return count;
    },
    async addMember(key, member, options) {
      const expires =
        options?.ttlMs === undefined ? Number.POSITIVE_INFINITY : clock() + options.ttlMs;
      let set = liveSet(key);
      if (!set) {
        // The same bound for sets as for values: expired ones go first, then the oldest.
        if (sets.size >= maxEntries) for (const k of [...sets.keys()]) liveSet(k);
        while (sets.size >= maxEntries) sets.delete(sets.keys().next().value!);
        sets.set(key, (set = new Map()));
      }
      set.set(member, expires);
    },
    async removeMember(key, member) {
      const set = liveSet(key);
      if (!set?.delete(member)) return false;
      if (set.size === 0) sets.delete(key);
      return true;
    },
    async members(key) {
      return [...(liveSet(key)?.keys() ?? [])];
    },
  };
}
