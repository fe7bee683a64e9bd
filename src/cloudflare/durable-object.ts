import { DurableObject } from "cloudflare:workers";
import { type Store, StoreUnavailableError, type WriteOptions } from "../storage/store.ts";

/** Expired rows are swept this long after the first write that set a TTL, then on this cadence. */
const SWEEP_INTERVAL_MS = 10 * 60_000;

interface Row extends Record<string, SqlStorageValue> {
  value: string;
  expires: number | null;
}

/**
 * The Durable Object behind `durableObjectStore()`: every Store entry as a row of its SQLite
 * database. Export it from your Worker's main module and bind it as a SQLite-backed class
 * (`new_sqlite_classes` in the migrations of wrangler.toml).
 *
 * Each method is synchronous from its first read to its last write. A Durable Object only
 * lets another event in at an `await`, so each operation is atomic and linearizable however
 * many Workers call it at once: that is what keeps authorization codes single-use and refresh
 * rotation compare-and-set, which eventually consistent KV cannot do.
 */
export class PortcullisStore extends DurableObject<unknown> {
  readonly #sql: SqlStorage;
  /** When the sweep alarm is due, as far as this instance knows; undefined: none scheduled. */
  #sweepAt: number | undefined;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER)",
    );
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS members (key TEXT NOT NULL, member TEXT NOT NULL, expires INTEGER, PRIMARY KEY (key, member))",
    );
    // Holding events back until the alarm is known keeps the first writes from scheduling twice.
    void ctx.blockConcurrencyWhile(async () => {
      this.#sweepAt = (await ctx.storage.getAlarm()) ?? undefined;
    });
  }

  /** The value's JSON, or null when absent or expired. */
  read(key: string): string | null {
    return this.#live(key)?.value ?? null;
  }

  write(key: string, json: string, ttlMs: number | null): void {
    this.#put(key, json, ttlMs);
  }

  /** Writes only when the key is absent; true when this call wrote it. */
  insert(key: string, json: string, ttlMs: number | null): boolean {
    if (this.#live(key)) return false;
    this.#put(key, json, ttlMs);
    return true;
  }

  remove(key: string): boolean {
    const existed = this.#live(key) !== undefined;
    this.#sql.exec("DELETE FROM entries WHERE key = ?", key);
    return existed;
  }

  /** Reads and deletes in one step. */
  take(key: string): string | null {
    const row = this.#live(key);
    if (row) this.#sql.exec("DELETE FROM entries WHERE key = ?", key);
    return row?.value ?? null;
  }

  /** Replaces the value when its JSON equals `expected` (null: expects the key absent). */
  swap(key: string, expected: string | null, json: string, ttlMs: number | null): boolean {
    const current = this.#live(key);
    if ((current?.value ?? null) !== expected) return false;
    this.#put(key, json, ttlMs);
    return true;
  }

  /** Adds to a counter; a new counter starts at 0 with the TTL, an existing one keeps its own. */
  increment(key: string, by: number, ttlMs: number | null): number {
    const current = this.#live(key);
    if (!current) {
      this.#put(key, JSON.stringify(by), ttlMs);
      return by;
    }
    const count = Number(JSON.parse(current.value)) + by;
    this.#sql.exec("UPDATE entries SET value = ? WHERE key = ?", JSON.stringify(count), key);
    return count;
  }

  /** Adds a member to a set, or replaces its TTL. */
  addMember(key: string, member: string, ttlMs: number | null): void {
    const expires = ttlMs === null ? null : Date.now() + ttlMs;
    this.#sql.exec(
      "INSERT INTO members (key, member, expires) VALUES (?, ?, ?) ON CONFLICT(key, member) DO UPDATE SET expires = excluded.expires",
      key,
      member,
      expires,
    );
    if (expires !== null && this.#sweepAt === undefined) this.#scheduleSweep();
  }

  /** True when the member was there and live. */
  removeMember(key: string, member: string): boolean {
    const live = this.#sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM members WHERE key = ? AND member = ? AND (expires IS NULL OR expires > ?)",
        key,
        member,
        Date.now(),
      )
      .one().n;
    this.#sql.exec("DELETE FROM members WHERE key = ? AND member = ?", key, member);
    return live > 0;
  }

  members(key: string): string[] {
    return this.#sql
      .exec<{ member: string }>(
        "SELECT member FROM members WHERE key = ? AND (expires IS NULL OR expires > ?)",
        key,
        Date.now(),
      )
      .toArray()
      .map((row) => row.member);
  }

  /** Deletes expired rows and members; reschedules itself while some with a TTL remain. */
  override async alarm(): Promise<void> {
    this.#sweepAt = undefined;
    const now = Date.now();
    this.#sql.exec("DELETE FROM entries WHERE expires IS NOT NULL AND expires <= ?", now);
    this.#sql.exec("DELETE FROM members WHERE expires IS NOT NULL AND expires <= ?", now);
    const pending = this.#sql
      .exec<{ n: number }>(
        "SELECT (SELECT COUNT(*) FROM entries WHERE expires IS NOT NULL) + (SELECT COUNT(*) FROM members WHERE expires IS NOT NULL) AS n",
      )
      .one().n;
    if (pending > 0) this.#scheduleSweep();
  }

  #live(key: string): Row | undefined {
    const rows = this.#sql
      .exec<Row>("SELECT value, expires FROM entries WHERE key = ?", key)
      .toArray();
    const row = rows[0];
    if (!row) return undefined;
    // Expired rows wait for the sweep, but are never returned.
    if (row.expires !== null && row.expires <= Date.now()) return undefined;
    return row;
  }

  #put(key: string, json: string, ttlMs: number | null): void {
    const expires = ttlMs === null ? null : Date.now() + ttlMs;
    this.#sql.exec(
      "INSERT INTO entries (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
      key,
      json,
      expires,
    );
    if (expires !== null && this.#sweepAt === undefined) this.#scheduleSweep();
  }

  #scheduleSweep(): void {
    const at = Date.now() + SWEEP_INTERVAL_MS;
    this.#sweepAt = at;
    // Not awaited: the write above is already done, and the sweep is housekeeping only.
    void this.ctx.storage.setAlarm(at);
  }
}

export interface DurableObjectStoreOptions {
  /** Name of the Durable Object holding the data. Default "portcullis". */
  name?: string;
  /**
   * Spread keys over this many objects (named `name`, `name:1`, `name:2`, ...) for more
   * throughput. Every operation touches one key, so each stays atomic. Changing the number
   * later moves keys to other objects: existing entries are no longer found. Default 1.
   */
  shards?: number;
}

/** The Durable Object namespace binding `durableObjectStore()` talks to. */
export type PortcullisStoreNamespace = DurableObjectNamespace<PortcullisStore>;

/** FNV-1a: a stable, well-spread shard choice with no dependency and no await. */
function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError("Store values must serialize to JSON");
  return json;
}

const ttlOf = (options: WriteOptions | undefined): number | null => options?.ttlMs ?? null;

/**
 * A Store kept in a SQLite-backed Durable Object (`PortcullisStore`), for the authorization
 * server, sessions and anything else that needs atomic single-use reads and compare-and-set
 * across every Worker instance. Pass the namespace binding, e.g. `env.PORTCULLIS_STORE`.
 * When the object cannot be reached, operations reject with `StoreUnavailableError`.
 */
export function durableObjectStore(
  namespace: PortcullisStoreNamespace,
  options: DurableObjectStoreOptions = {},
): Store {
  const name = options.name ?? "portcullis";
  const shards = Math.max(1, Math.floor(options.shards ?? 1));

  // A fresh stub per call: a stub that saw a broken connection stays broken.
  const call = async <R>(
    key: string,
    operation: (stub: DurableObjectStub<PortcullisStore>) => Promise<R>,
  ): Promise<R> => {
    const shard = shards === 1 ? 0 : shardOf(key, shards);
    try {
      const id = namespace.idFromName(shard === 0 ? name : `${name}:${shard}`);
      return await operation(namespace.get(id));
    } catch (error) {
      throw new StoreUnavailableError("The Durable Object store could not be reached", {
        cause: error,
      });
    }
  };
  const parse = <T>(json: string | null): T | undefined =>
    json === null ? undefined : (JSON.parse(json) as T);

  return {
    async get<T = unknown>(key: string) {
      return parse<T>(await call(key, (stub) => stub.read(key)));
    },
    async set(key, value, options) {
      const json = toJson(value);
      await call(key, (stub) => stub.write(key, json, ttlOf(options)));
    },
    async add(key, value, options) {
      const json = toJson(value);
      return call(key, (stub) => stub.insert(key, json, ttlOf(options)));
    },
    async delete(key) {
      return call(key, (stub) => stub.remove(key));
    },
    async take<T = unknown>(key: string) {
      return parse<T>(await call(key, (stub) => stub.take(key)));
    },
    async compareAndSet(key, expected, next, options) {
      const want = expected === undefined ? null : toJson(expected);
      const json = toJson(next);
      return call(key, (stub) => stub.swap(key, want, json, ttlOf(options)));
    },
    async increment(key, by, options) {
      return call(key, (stub) => stub.increment(key, by, ttlOf(options)));
    },
    async addMember(key, member, options) {
      await call(key, (stub) => stub.addMember(key, member, ttlOf(options)));
    },
    async removeMember(key, member) {
      return call(key, (stub) => stub.removeMember(key, member));
    },
    async members(key) {
      return call(key, (stub) => stub.members(key));
    },
  };
}
