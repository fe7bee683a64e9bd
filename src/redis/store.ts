import { type Store, StoreUnavailableError, type WriteOptions } from "../storage/store.ts";
import { Commands, type RedisClient, Script } from "./client.ts";

export interface RedisStoreOptions {
  /** A connected ioredis client; `connectRedis(url)` makes one with fail-fast options. */
  client: RedisClient;
  /** Prepended to every key, to share one Redis between deployments. Default "portcullis:". */
  prefix?: string;
  /**
   * How long an operation may take, waiting for a reconnection included, before it fails
   * with StoreUnavailableError (the endpoints answer 503). Default 2 s.
   */
  timeoutMs?: number;
}

/**
 * Replaces the value only when the stored JSON text is the expected one. ARGV[1] is "1" when
 * a value is expected, "0" when the key must be absent.
 */
const COMPARE_AND_SET = new Script(`
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1
`);

/**
 * Adds to a counter; a counter this call creates gets the TTL, an existing one keeps its own
 * (as PEXPIRE NX would, but also for a counter that was written without one).
 */
const INCREMENT = new Script(`
local existed = redis.call('EXISTS', KEYS[1])
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return count
`);

/** Redis's own time in epoch ms, so that every instance expires members by one clock. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * A set is a sorted set scored by each member's expiry (epoch ms, +inf without a TTL). Adding
 * drops expired members and lets the key live as long as its longest-lived member.
 */
const ADD_MEMBER = new Script(`${NOW}
local expires = '+inf'
if ARGV[2] ~= '' then expires = string.format('%d', now + tonumber(ARGV[2])) end
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] == 'inf' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], last[2])
end
return 1
`);

/** Removes a member; 1 only when it was there and not yet expired. */
const REMOVE_MEMBER = new Script(`${NOW}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if score and tonumber(score) > now then return 1 end
return 0
`);

/** The members whose expiry is still ahead. */
const MEMBERS = new Script(`${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`);

function ttlOf(options: WriteOptions | undefined): number | undefined {
  const ttl = options?.ttlMs;
  // Redis refuses a PX of 0; a TTL that small means "already gone" anyway.
  return ttl === undefined ? undefined : Math.max(1, Math.ceil(ttl));
}

function parse<T>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

/**
 * The Store in Redis, for several instances: each operation is one Redis command or one Lua
 * script, so it is atomic across every instance sharing the server. TTLs are Redis expiries;
 * values are stored as their JSON text, which is also what compareAndSet compares. Sets are
 * sorted sets scored by expiry, read by Redis's own clock. No operation scans keys.
 */
export function redisStore(options: RedisStoreOptions): Store {
  const prefix = options.prefix ?? "portcullis:";
  const commands = new Commands(options.client, options.timeoutMs ?? 2_000, StoreUnavailableError);
  const run = commands.run.bind(commands);
  return {
    async get<T = unknown>(key: string) {
      return parse<T>(await run((redis) => redis.get(prefix + key)));
    },
    async set(key, value, options) {
      const json = JSON.stringify(value);
      const ttl = ttlOf(options);
      await run((redis) =>
        ttl === undefined
          ? redis.set(prefix + key, json)
          : redis.set(prefix + key, json, "PX", ttl),
      );
    },
    async add(key, value, options) {
      const json = JSON.stringify(value);
      const ttl = ttlOf(options);
      const reply = await run((redis) =>
        ttl === undefined
          ? redis.set(prefix + key, json, "NX")
          : redis.set(prefix + key, json, "PX", ttl, "NX"),
      );
      return reply === "OK";
    },
    async delete(key) {
      return (await run((redis) => redis.del(prefix + key))) > 0;
    },
    async take<T = unknown>(key: string) {
      return parse<T>(await run((redis) => redis.getdel(prefix + key)));
    },
    async compareAndSet(key, expected, next, options) {
      const ttl = ttlOf(options);
      const reply = await run((redis) =>
        COMPARE_AND_SET.run(
          redis,
          [prefix + key],
          [
            expected === undefined ? "0" : "1",
            expected === undefined ? "" : JSON.stringify(expected),
            JSON.stringify(next),
            ttl === undefined ? "" : ttl,
          ],
        ),
      );
      return reply === 1;
    },
    async increment(key, by, options) {
      const ttl = ttlOf(options);
      const reply = await run((redis) =>
        INCREMENT.run(redis, [prefix + key], [by, ttl === undefined ? "" : ttl]),
      );
      return Number(reply);
    },
    async addMember(key, member, options) {
      const ttl = ttlOf(options);
      await run((redis) =>
        ADD_MEMBER.run(redis, [prefix + key], [member, ttl === undefined ? "" : ttl]),
      );
    },
    async removeMember(key, member) {
      return (await run((redis) => REMOVE_MEMBER.run(redis, [prefix + key], [member]))) === 1;
    },
    async members(key) {
      return (await run((redis) => MEMBERS.run(redis, [prefix + key], []))) as string[];
    },
  };
}
