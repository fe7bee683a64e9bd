import type { DeadLetter, QueueDelivery, QueueMessage, QueueSend } from "../queue/envelope.ts";
import type { QueueServer } from "../queue/server.ts";
import type { Store } from "../storage/store.ts";

/**
 * MCP over Cloudflare Queues: a Queue message body is the queue envelope itself
 * (`{ body, attributes }`, sent as JSON), the consumer is the Worker's `queue()` handler, and
 * answers go to a reply queue (a producer binding) or to a mailbox in a Store (a Durable
 * Object with `durableObjectStore`) for callers that have no queue of their own.
 */

/** The address prefix of mailbox replies: `mailbox:<name>`. */
export const MAILBOX = "mailbox:";

export interface CloudflareQueuesOptions {
  /** Producer bindings by the address messages name them with (`mcp-reply-to`, dead letter). */
  queues?: Record<string, Queue>;
  /** The address among `queues` that takes dead letters. */
  deadLetter?: string;
  /** Keeps `mailbox:<name>` replies, in order, until taken. A Durable Object store, typically. */
  mailbox?: Store;
  /** How long an untaken mailbox reply is kept. Default 1 hour. */
  mailboxTtlMs?: number;
}

/** What a consumer's batch handler does with one batch. */
export type QueueBatchHandler = (batch: MessageBatch<unknown>) => Promise<void>;

export interface CloudflareQueues {
  /** `serveQueue`'s `send`: to a producer by address, or into the mailbox. */
  send: QueueSend;
  /** `serveQueue`'s `deadLetter`: to the `deadLetter` queue. */
  deadLetter(message: DeadLetter): Promise<void>;
  /**
   * The Worker's `queue()` handler for a queue of requests: each message goes to
   * `server.handle`, which acks or retries it. Messages run concurrently.
   */
  consumer(server: QueueServer): QueueBatchHandler;
  /** Takes the replies waiting in a mailbox, oldest first (one reader per mailbox). */
  take(name: string): Promise<QueueMessage[]>;
}

/** The envelope out of a Queue message body; anything else becomes an unreadable body. */
function envelopeOf(body: unknown): QueueMessage {
  if (typeof body === "object" && body !== null) {
    const { body: text, attributes } = body as { body?: unknown; attributes?: unknown };
    if (typeof text === "string" && typeof attributes === "object" && attributes !== null) {
      const strings: Record<string, string> = {};
      for (const [name, value] of Object.entries(attributes)) {
        if (typeof value === "string") strings[name] = value;
      }
      return { body: text, attributes: strings };
    }
  }
  // serveQueue sends what it cannot read to the dead letter; an empty body is not JSON.
  return { body: typeof body === "string" ? body : "", attributes: {} };
}

function deliveryOf(message: Message<unknown>): QueueDelivery {
  const { body, attributes } = envelopeOf(message.body);
  return {
    body,
    attributes,
    attempts: message.attempts,
    ack: async () => message.ack(),
    retry: async () => message.retry(),
    // Queues has no visibility to extend: a message is the consumer's until its handler returns.
  };
}

/**
 * The Cloudflare Queues adapter for `serveQueue` (and for callers in Workers that send
 * requests). Queues delivers at least once and retries a message the handler retried or
 * threw on, up to the consumer's `max_retries`; serveQueue's Store claims make redeliveries
 * answer from the record instead of running twice.
 *
 * ```ts
 * const queues = cloudflareQueues({ queues: { "mcp-replies": env.REPLIES }, mailbox: store });
 * const server = serveQueue(mcp, { send: queues.send, deadLetter: queues.deadLetter, store });
 * export default { queue: (batch, env) => queues.consumer(server)(batch) };
 * ```
 */
export function cloudflareQueues(options: CloudflareQueuesOptions): CloudflareQueues {
  const queues = options.queues ?? {};
  for (const [address, queue] of Object.entries(queues)) {
    if (typeof queue?.send !== "function") {
      throw new TypeError(`cloudflareQueues: queues["${address}"] is not a Queue binding`);
    }
  }
  if (options.deadLetter !== undefined && !Object.hasOwn(queues, options.deadLetter)) {
    throw new TypeError(`cloudflareQueues: deadLetter "${options.deadLetter}" is not in queues`);
  }
  const ttlMs = options.mailboxTtlMs ?? 3_600_000;
  if (!(Number.isFinite(ttlMs) && ttlMs > 0)) {
    throw new TypeError("cloudflareQueues: mailboxTtlMs must be a positive number");
  }
  const mailbox = options.mailbox;
  const box = (name: string) => `cfq:mailbox:${name}:`;

  const send: QueueSend = async (address, message) => {
    if (address.startsWith(MAILBOX)) {
      if (!mailbox) throw new Error(`No mailbox store for reply address ${address}`);
      const name = address.slice(MAILBOX.length);
      const seq = await mailbox.increment(`${box(name)}n`, 1, { ttlMs });
      await mailbox.set(
        `${box(name)}${seq}`,
        { body: message.body, attributes: message.attributes },
        { ttlMs },
      );
      return;
    }
    const queue = Object.hasOwn(queues, address) ? queues[address] : undefined;
    // An unknown address throws: serveQueue retries the message, then dead-letters it.
    if (!queue) throw new Error(`No queue binding for reply address ${address}`);
    await queue.send(
      { body: message.body, attributes: message.attributes },
      { contentType: "json" },
    );
  };

  return {
    send,
    async deadLetter(message) {
      if (options.deadLetter === undefined) return;
      await send(options.deadLetter, {
        body: message.body,
        attributes: {
          ...message.attributes,
          "dead-letter-reason": message.reason,
          "dead-letter-attempts": String(message.attempts),
        },
      });
    },
    consumer(server) {
      return async (batch) => {
        await Promise.all(batch.messages.map((message) => server.handle(deliveryOf(message))));
      };
    },
    async take(name) {
      if (!mailbox) throw new Error("cloudflareQueues: no mailbox store");
      const key = box(name);
      const last = Number((await mailbox.get(`${key}n`)) ?? 0);
      const read = Number((await mailbox.get(`${key}read`)) ?? 0);
      const taken: QueueMessage[] = [];
      for (let seq = read + 1; seq <= last; seq++) {
        const entry = await mailbox.take<QueueMessage>(`${key}${seq}`);
        if (entry) taken.push(envelopeOf(entry));
      }
      if (last > read) await mailbox.set(`${key}read`, last, { ttlMs });
      return taken;
    },
  };
}
