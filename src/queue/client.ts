import { TransportError } from "../client/errors.ts";
import type { ClientTransport, TransportHandlers } from "../client/transport.ts";
import type { JsonRpcMessage, RequestId } from "../mcp/jsonrpc.ts";
import { AUTHORIZATION, type QueueMessage, REPLY_TO } from "./envelope.ts";

/** One message on the client's reply address. */
export interface ReplyDelivery {
  body: string;
  /** Engines with acknowledgements: called once the message was handed to the client. */
  ack?(): Promise<void>;
}

export interface QueueTransportOptions {
  /** Sends a message to the server's request queue. */
  send(message: QueueMessage): Promise<void>;
  /** Messages on this client's reply address, until `signal` aborts. */
  receive(signal: AbortSignal): AsyncIterable<ReplyDelivery>;
  /** The reply address servers answer to; this client's own. */
  replyTo: string;
  /** The access token for each message (a string, or a function asked per message). */
  token?: string | (() => string | undefined | Promise<string | undefined>);
}

/** Replies already handed over, remembered so a redelivered answer is not seen twice. */
const REMEMBERED = 10_000;

class QueueTransport implements ClientTransport {
  readonly #options: QueueTransportOptions;
  /** Prefixes request ids on the wire, so a restarted client never reuses an answered id. */
  readonly #nonce = crypto.randomUUID();
  readonly #life = new AbortController();
  readonly #seen = new Set<string>();
  #handlers: TransportHandlers | undefined;

  constructor(options: QueueTransportOptions) {
    if (!options.replyTo) throw new TypeError("queueTransport: replyTo is required");
    this.#options = options;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    if (this.#handlers) throw new Error("A transport carries one connection; make a new one");
    this.#handlers = handlers;
    void this.#read(handlers);
  }

  async #read(handlers: TransportHandlers): Promise<void> {
    try {
      for await (const delivery of this.#options.receive(this.#life.signal)) {
        this.#deliver(delivery.body, handlers);
        await delivery.ack?.();
      }
    } catch (error) {
      if (this.#life.signal.aborted) return;
      handlers.closed(
        new TransportError("ERR_NETWORK", "The reply queue could not be read", { cause: error }),
      );
    }
  }

  #deliver(body: string, handlers: TransportHandlers): void {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      handlers.warning?.({ code: "bad_message", message: "A reply on the queue is not JSON" });
      return;
    }
    if (typeof value !== "object" || value === null) {
      handlers.message(value);
      return;
    }
    const message = value as Record<string, unknown>;
    if ("id" in message && !("method" in message)) {
      const wire = message.id;
      if (typeof wire === "string") {
        // Answers are redelivered as recorded; the first one counts.
        if (this.#seen.has(wire)) return;
        this.#seen.add(wire);
        if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.values().next().value!);
      }
      message.id = this.#local(wire);
    }
    handlers.message(message);
  }

  #wire(id: RequestId): RequestId {
    return typeof id === "number" ? `${this.#nonce}:${id}` : id;
  }

  #wireOf(id: unknown): unknown {
    return typeof id === "number" ? this.#wire(id) : id;
  }

  #local(id: unknown): unknown {
    if (typeof id !== "string" || !id.startsWith(`${this.#nonce}:`)) return id;
    return Number(id.slice(this.#nonce.length + 1));
  }

  async send(message: JsonRpcMessage): Promise<void> {
    if (this.#life.signal.aborted || !this.#handlers) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "The queue transport is closed");
    }
    let wire: JsonRpcMessage = message;
    if ("id" in message && "method" in message) wire = { ...message, id: this.#wire(message.id) };
    else if ("method" in message && message.method === "notifications/cancelled") {
      wire = {
        ...message,
        params: { ...message.params, requestId: this.#wireOf(message.params?.requestId) },
      };
    }
    const attributes: Record<string, string> = { [REPLY_TO]: this.#options.replyTo };
    const token =
      typeof this.#options.token === "function" ? await this.#options.token() : this.#options.token;
    if (token) attributes[AUTHORIZATION] = `Bearer ${token}`;
    try {
      await this.#options.send({ body: JSON.stringify(wire), attributes });
    } catch (error) {
      throw new TransportError("ERR_NETWORK", "The request could not be queued", { cause: error });
    }
  }

  async close(): Promise<void> {
    if (this.#life.signal.aborted) return;
    this.#life.abort();
    this.#handlers?.closed(
      new TransportError("ERR_CONNECTION_CLOSED", "The queue transport is closed"),
    );
  }
}

/**
 * A client transport over a message queue: each request goes out as one message carrying the
 * reply address and the caller's token, and answers, progress and logs come back on the reply
 * address. Speak 2026-07-28 over it (`protocolVersion: "2026-07-28"`), which needs no session.
 * Cancelling a call sends `notifications/cancelled` as a message of its own.
 */
export function queueTransport(options: QueueTransportOptions): ClientTransport {
  return new QueueTransport(options);
}
