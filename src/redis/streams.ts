import type { ReplyDelivery } from "../queue/client.ts";
import {
  type DeadLetter,
  type QueueDelivery,
  type QueueMessage,
  QueueUnavailableError,
} from "../queue/envelope.ts";
import { Commands, type RedisClient } from "./client.ts";

export interface RedisStreamsOptions {
  /** A connected ioredis client; blocking reads run on duplicates of it. */
  client: RedisClient;
  /** Entries kept per stream, roughly (`XADD … MAXLEN ~`). Default 100,000. */
  maxLen?: number;
  /** How long a command may take, reconnection included, before QueueUnavailableError. Default 2 s. */
  timeoutMs?: number;
}

export interface StreamConsumerOptions {
  /** The request stream. */
  stream: string;
  /** The consumer group every server process of one MCP server joins. Created when absent. */
  group: string;
  /** This process's name in the group; unique per process. */
  consumer: string;
  /** How long a read waits for new entries before looking for stalled ones. Default 1 s. */
  blockMs?: number;
  /**
   * An entry delivered to a consumer that has not acknowledged it (nor extended its lease) for
   * this long is claimed by another (`XAUTOCLAIM`): its consumer is presumed dead. Default 30 s;
   * keep it above `serveQueue`'s heartbeat.
   */
  claimIdleMs?: number;
  /** Entries read at once. Default 16. */
  count?: number;
}

/** Message attributes are stored as entry fields under this prefix, beside `body`. */
const ATTRIBUTE = "attr:";

function fieldsOf(message: QueueMessage, extra: Record<string, string> = {}): string[] {
  const fields = ["body", message.body];
  for (const [name, value] of Object.entries(message.attributes))
    fields.push(`${ATTRIBUTE}${name}`, value);
  for (const [name, value] of Object.entries(extra)) fields.push(name, value);
  return fields;
}

function messageOf(fields: readonly string[]): QueueMessage {
  const message: QueueMessage = { body: "", attributes: {} };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    if (name === "body") message.body = fields[i + 1]!;
    else if (name.startsWith(ATTRIBUTE)) {
      message.attributes[name.slice(ATTRIBUTE.length)] = fields[i + 1]!;
    }
  }
  return message;
}

type Entry = [id: string, fields: string[] | null];

/**
 * MCP over Redis Streams: requests on one stream read by a consumer group (each entry goes to
 * one server process), answers appended to each client's own reply stream, given-up messages
 * appended to a dead-letter stream. An entry stays pending until acknowledged (`XACK`); one
 * whose consumer went quiet for `claimIdleMs` is claimed by another (`XAUTOCLAIM`), which
 * counts as one more delivery. Streams are capped near `maxLen` entries.
 */
export function redisStreams(options: RedisStreamsOptions) {
  const client = options.client;
  const maxLen = options.maxLen ?? 100_000;
  if (!Number.isInteger(maxLen) || maxLen <= 0) throw new TypeError("maxLen must be positive");
  const commands = new Commands(client, options.timeoutMs ?? 2_000, QueueUnavailableError);
  const run = <T>(command: (c: RedisClient) => Promise<T>) => commands.run(command);
  const blocking = () =>
    client.duplicate({ commandTimeout: undefined, enableOfflineQueue: true, lazyConnect: false });

  const append = (stream: string, fields: string[]) =>
    run((c) => c.xadd(stream, "MAXLEN", "~", String(maxLen), "*", ...fields));

  /** Appends a message to a stream (a request stream, or a client's reply stream). */
  async function send(stream: string, message: QueueMessage): Promise<void> {
    await append(stream, fieldsOf(message));
  }

  /** A `deadLetter` for serveQueue: appends the message and why to `stream`. */
  function deadLetter(stream: string) {
    return async (message: DeadLetter): Promise<void> => {
      await append(
        stream,
        fieldsOf(message, { reason: message.reason, attempts: String(message.attempts) }),
      );
    };
  }

  /** A `receive` for serveQueue: this process's share of the request stream. */
  function consume(consumer: StreamConsumerOptions) {
    const { stream, group } = consumer;
    const blockMs = consumer.blockMs ?? 1_000;
    const claimIdleMs = consumer.claimIdleMs ?? 30_000;
    const count = consumer.count ?? 16;

    const delivery = (id: string, fields: string[], attempts: number): QueueDelivery => ({
      ...messageOf(fields),
      attempts,
      ack: async () => {
        await run((c) => c.xack(stream, group, id));
      },
      // Left pending: another consumer claims it once it has been idle for claimIdleMs.
      retry: async () => {},
      // Claiming one's own entry again resets its idle time, which is the lease here.
      extend: async () => {
        await run((c) => c.xclaim(stream, group, consumer.consumer, 0, id, "JUSTID"));
      },
    });

    /** Deliveries so far of pending entries (XAUTOCLAIM counts its claim as one). */
    async function attemptsOf(ids: string[]): Promise<Map<string, number>> {
      const counts = new Map<string, number>();
      if (!ids.length) return counts;
      const replies = await run((c) => {
        const pipeline = c.pipeline();
        for (const id of ids) pipeline.xpending(stream, group, id, id, 1);
        return pipeline.exec().then((done) => done ?? []);
      });
      replies.forEach(([, reply], i) => {
        const row = (reply as [string, string, number, number][] | undefined)?.[0];
        counts.set(ids[i]!, row ? Number(row[3]) : 1);
      });
      return counts;
    }

    return async function* receive(signal: AbortSignal): AsyncIterable<QueueDelivery> {
      try {
        await run((c) => c.xgroup("CREATE", stream, group, "0", "MKSTREAM"));
      } catch (error) {
        if (!String(error).includes("BUSYGROUP")) throw error;
      }
      const reader = blocking();
      reader.on("error", () => {});
      let cursor = "0-0";
      let lastClaim = 0;
      try {
        while (!signal.aborted) {
          if (Date.now() - lastClaim >= Math.min(claimIdleMs, blockMs)) {
            lastClaim = Date.now();
            const [next, entries] = (await run((c) =>
              c.xautoclaim(stream, group, consumer.consumer, claimIdleMs, cursor, "COUNT", count),
            )) as [string, Entry[]];
            cursor = next;
            const live = entries.filter((entry): entry is [string, string[]] => !!entry[1]);
            const attempts = await attemptsOf(live.map(([id]) => id));
            for (const [id, fields] of live) yield delivery(id, fields, attempts.get(id) ?? 1);
          }
          if (signal.aborted) break;
          const read = (await reader.xreadgroup(
            "GROUP",
            group,
            consumer.consumer,
            "COUNT",
            count,
            "BLOCK",
            blockMs,
            "STREAMS",
            stream,
            ">",
          )) as [string, Entry[]][] | null;
          for (const [, entries] of read ?? []) {
            for (const [id, fields] of entries) if (fields) yield delivery(id, fields, 1);
          }
        }
      } finally {
        reader.disconnect();
      }
    };
  }

  /** A `receive` for queueTransport: every entry appended to a client's reply stream. */
  function read(stream: string) {
    return async function* receive(signal: AbortSignal): AsyncIterable<ReplyDelivery> {
      const reader = blocking();
      reader.on("error", () => {});
      // Where the stream ends now: answers to requests sent after this are all read. Asked on
      // the main connection, so it is answered before any request this client then sends.
      const tail = (await run((c) => c.xrevrange(stream, "+", "-", "COUNT", 1))) as Entry[];
      let last = tail[0]?.[0] ?? "0-0";
      try {
        while (!signal.aborted) {
          const read = (await reader.xread("BLOCK", 500, "STREAMS", stream, last)) as
            | [string, Entry[]][]
            | null;
          for (const [, entries] of read ?? []) {
            for (const [id, fields] of entries) {
              last = id;
              if (fields) yield { body: messageOf(fields).body };
            }
          }
        }
      } finally {
        reader.disconnect();
      }
    };
  }

  return { send, deadLetter, consume, read };
}

export type RedisStreams = ReturnType<typeof redisStreams>;
