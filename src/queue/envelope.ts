import { UnavailableError } from "../util/errors.ts";

/**
 * The envelope MCP travels in over a queue, the same on every engine: the body is the JSON
 * text of one JSON-RPC message, and string attributes carry what HTTP would put in headers.
 */

/** Where the answer to a request (and its progress and logs) goes: a queue, stream or topic name. */
export const REPLY_TO = "mcp-reply-to";
/** The caller's credentials, as the HTTP Authorization header: `Bearer <token>`. */
export const AUTHORIZATION = "authorization";

/** One message as an engine carries it. */
export interface QueueMessage {
  /** The JSON text of one JSON-RPC message. */
  body: string;
  /** String attributes (SQS message attributes, stream entry fields, Queues message body). */
  attributes: Record<string, string>;
}

/**
 * One delivery of a message to a consumer, as an adapter hands it over. Delivery is at least
 * once: the same message may come again (after a crash, a lease that ran out, a retry).
 */
export interface QueueDelivery extends QueueMessage {
  /** Deliveries of this message so far, this one included (1 the first time). */
  readonly attempts: number;
  /** The message is done with: it is never delivered again. */
  ack(): Promise<void>;
  /**
   * The message is not done with: it comes again later (when the engine's visibility timeout
   * or lease runs out, or at once on engines that retry explicitly).
   */
  retry(): Promise<void>;
  /** Keeps the message from going to another consumer for `ms` more, while it is worked on. */
  extend?(ms: number): Promise<void>;
}

/** A message sent to a dead-letter destination: the original and why it was given up on. */
export interface DeadLetter extends QueueMessage {
  reason: string;
  attempts: number;
}

/** Sends one message to an address (a queue, stream or topic name the adapter understands). */
export type QueueSend = (address: string, message: QueueMessage) => Promise<void>;

/** Deliveries, one at a time, until `signal` aborts. */
export type QueueReceive = (signal: AbortSignal) => AsyncIterable<QueueDelivery>;

/** Raised by an adapter whose engine cannot be reached; the message is retried later. */
export class QueueUnavailableError extends UnavailableError {
  declare readonly code: "ERR_QUEUE_UNAVAILABLE";

  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_QUEUE_UNAVAILABLE", message, options);
    this.name = "QueueUnavailableError";
  }
}
