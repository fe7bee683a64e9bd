import type { EventStore, StoredEvent } from "../http/event-store.ts";
import type { JsonRpcMessage } from "../mcp/jsonrpc.ts";
import { StoreUnavailableError } from "../storage/store.ts";
import { Commands, type RedisClient, Script } from "./client.ts";

export interface RedisEventStoreOptions {
  client: RedisClient;
  /** Prepended to every key. Default "portcullis:". */
  prefix?: string;
  /** Events kept per stream, roughly (Redis trims whole nodes: MAXLEN ~). Default 1,000. */
  maxEventsPerStream?: number;
  /** How long events are kept; a stream idle this long is forgotten. Default 1 hour. */
  maxAgeMs?: number;
  /** How long one operation may take before it fails with StoreUnavailableError. Default 2 s. */
  timeoutMs?: number;
}

/**
 * Appends one event: the stream's next position from its counter, the entry with a
 * time-based id (so age trimming can use MINID), both keys' expiry pushed forward.
 * KEYS: stream, counter. ARGV: message, max length, max age in ms.
 */
const APPEND = new Script(`
local position = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'p', position, 'm', ARGV[1])
local now = redis.call('TIME')
local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
if cutoff > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', cutoff) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return position
`);

type StreamEntry = [id: string, fields: string[]];

function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * The EventStore in Redis Streams, so a 2025 client can resume a stream on any instance.
 * One stream key per SSE stream, bounded by length (MAXLEN ~) and by age (MINID ~ and key
 * expiry), plus a counter that numbers its events 1, 2, 3 ... The two keys of a stream share
 * a hash tag, so they sit on one node of a Redis Cluster.
 */
export function redisEventStore(options: RedisEventStoreOptions): EventStore {
  const prefix = options.prefix ?? "portcullis:";
  const maxEvents = options.maxEventsPerStream ?? 1_000;
  const maxAgeMs = options.maxAgeMs ?? 60 * 60_000;
  const commands = new Commands(options.client, options.timeoutMs ?? 2_000, StoreUnavailableError);
  const keys = (streamId: string) => {
    const base = `${prefix}events:{${streamId}}`;
    return [base, `${base}:n`] as const;
  };
  return {
    async append(streamId, message) {
      const reply = await commands.run((redis) =>
        APPEND.run(redis, keys(streamId), [JSON.stringify(message), maxEvents, maxAgeMs]),
      );
      return Number(reply);
    },
    async replay(streamId, after) {
      const [stream, counter] = keys(streamId);
      const [entries, known] = await commands.run(async (redis) => {
        const replies = await redis.multi().xrange(stream, "-", "+").exists(counter).exec();
        if (!replies) throw new StoreUnavailableError("The replay transaction was aborted");
        for (const [error] of replies) if (error) throw error;
        return [replies[0]![1] as StreamEntry[], replies[1]![1] as number];
      });
      if (known === 0) return undefined;
      const events: StoredEvent[] = [];
      for (const [, fields] of entries) {
        const position = Number(fieldOf(fields, "p"));
        const text = fieldOf(fields, "m");
        if (position > after && text !== undefined) {
          events.push({ position, message: JSON.parse(text) as JsonRpcMessage });
        }
      }
      return events;
    },
    async drop(streamId) {
      await commands.run((redis) => redis.del(...keys(streamId)));
    },
  };
}
