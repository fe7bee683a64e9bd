import type { JsonRpcMessage } from "../mcp/jsonrpc.ts";
import type { EventStore } from "./event-store.ts";
import { countSseConnections } from "./stats.ts";

const encoder = new TextEncoder();

export const SSE_HEADERS: Record<string, string> = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache, no-transform",
  "X-Accel-Buffering": "no",
};

/** One SSE event in wire form. JSON has no raw newlines, so the data fits one line. */
export function sseEvent(data: string, id?: string, retry?: number): string {
  let event = "event: message\n";
  if (id !== undefined) event += `id: ${id}\n`;
  if (retry !== undefined) event += `retry: ${retry}\n`;
  return `${event}data: ${data}\n\n`;
}

export function eventId(streamId: string, position: number): string {
  return `${streamId}.${position}`;
}

/** Splits a Last-Event-ID into its stream and position; undefined when it is not ours. */
export function parseEventId(id: string): { streamId: string; position: number } | undefined {
  const dot = id.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const position = Number(id.slice(dot + 1));
  if (!Number.isSafeInteger(position) || position < 0) return undefined;
  return { streamId: id.slice(0, dot), position };
}

export interface SseStreamOptions {
  /** Stores every message so the stream can be resumed; events then carry ids. */
  eventStore?: EventStore | undefined;
  /** Comment sent this often while the stream is idle and connected. */
  keepAliveMs: number;
  /** The `retry` hint sent with the priming event. */
  retryMs?: number | undefined;
  /** Called once when the stream ends for good. */
  onClose?: () => void;
}

/**
 * Where a stream's events go while another instance holds the client's connection (a stream
 * resumed on another instance): each stored event as it is sent, then the end.
 */
export interface StreamRelay {
  /** Called in send order when the relay takes over, with the last stored position. */
  start(position: number): void;
  /** One stored event, already in wire form. */
  event(chunk: string, position: number): void;
  /** The stream finished, or its client came back to this instance or moved on. */
  end(): void;
}

/**
 * One logical SSE stream of the MCP transport: the reply stream of a POST, or a session's
 * GET stream. Messages written before a connection is attached are buffered, so a reply
 * that is ready at once goes out as one complete body. With an event store the stream
 * survives its connection: a client can reconnect and resume after the last id it saw.
 */
export class SseStream {
  readonly id: string;
  readonly #options: SseStreamOptions;
  #buffer: string[] = [];
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #order: Promise<unknown> = Promise.resolve();
  #closed = false;
  #finished = false;
  #wasConnected = false;
  #disconnectPending = false;
  /** The position of the last message stored, 0 before the first. */
  #position = 0;
  #onConnectionClosed: (() => void) | undefined;
  #relay: StreamRelay | undefined;

  constructor(id: string, options: SseStreamOptions) {
    this.id = id;
    this.#options = options;
  }

  get resumable(): boolean {
    return this.#options.eventStore !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get connected(): boolean {
    return this.#controller !== undefined;
  }

  /**
   * Sends the priming event: an id to resume from, before any further message. It names the
   * last message stored so far, so a stream opened again (a new GET) is primed too, and
   * resuming from it replays nothing the client had before. In send order, to count them all.
   */
  prime(): void {
    if (!this.resumable) return;
    this.#order = this.#order.then(() =>
      this.#write(sseEvent("", eventId(this.id, this.#position), this.#options.retryMs)),
    );
  }

  /**
   * Sends a message; with an event store, it is stored first and carries its id. `data` is its
   * JSON when the caller has it already.
   */
  send(message: JsonRpcMessage, data: string = JSON.stringify(message)): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const store = this.#options.eventStore;
    if (!store) {
      this.#write(sseEvent(data));
      return Promise.resolve();
    }
    // Keep event order even when the store answers out of order.
    const sent = this.#order.then(async () => {
      let position: number;
      try {
        position = await store.append(this.id, message);
      } catch {
        // The store is unreachable: the client still gets the message now, without an id,
        // since it could not be replayed.
        this.#write(sseEvent(data));
        return;
      }
      this.#position = position;
      const chunk = sseEvent(data, eventId(this.id, position));
      if (this.#relay) this.#relay.event(chunk, position);
      else this.#write(chunk);
    });
    this.#order = sent.catch(() => undefined);
    return sent;
  }

  /**
   * Hands this stream's client to another instance: the local connection ends (after what was
   * already sent) and later events go to `relay` until it ends. In send order.
   */
  relayTo(relay: StreamRelay): void {
    this.#order = this.#order.then(() => {
      this.#endRelay();
      if (this.#finished) {
        relay.start(this.#position);
        relay.end();
        return;
      }
      this.#relay = relay;
      relay.start(this.#position);
      this.#disconnectNow();
    });
  }

  /** Stops relaying to `relay` (its client went away); later events are only stored. */
  unrelay(relay: StreamRelay): void {
    if (this.#relay === relay) this.#relay = undefined;
  }

  #endRelay(): void {
    const relay = this.#relay;
    this.#relay = undefined;
    relay?.end();
  }

  /** Waits until every message handed to send() has been written. */
  flushed(): Promise<unknown> {
    return this.#order;
  }

  #write(chunk: string): void {
    if (this.#controller) {
      try {
        this.#controller.enqueue(encoder.encode(chunk));
      } catch {
        this.#detach();
      }
    } else if (!this.#wasConnected) {
      // Kept until the first connection; after one drops, only an event store keeps messages.
      this.#buffer.push(chunk);
    }
  }

  /** The buffered text, for a reply that finished before it needed to stream. */
  takeBuffered(): string {
    const text = this.#buffer.join("");
    this.#buffer = [];
    return text;
  }

  /**
   * Opens a connection for this stream and returns its body. Whatever was buffered goes first;
   * `replay` (already formatted events) goes before that, for a resumed connection.
   */
  connect(replay = "", onConnectionClosed?: () => void): ReadableStream<Uint8Array> {
    // One connection per stream: a client that resumes while its old connection is still open
    // gets that one ended, rather than left hanging with nothing more to come.
    const previous = this.#controller;
    this.#endRelay();
    this.#detach();
    try {
      previous?.close();
    } catch {
      // Already closed by the client.
    }
    this.#wasConnected = true;
    this.#onConnectionClosed = onConnectionClosed;
    const initial = replay + this.takeBuffered();
    let own: ReadableStreamDefaultController<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (initial) controller.enqueue(encoder.encode(initial));
        if (this.#finished || this.#disconnectPending) {
          this.#disconnectPending = false;
          controller.close();
          return;
        }
        this.#controller = own = controller;
        countSseConnections(1);
        this.#startKeepAlive();
      },
      cancel: () => {
        // A dropped connection may be noticed only after the client resumed on a new one:
        // detach only if this is still the current connection, never its successor.
        if (own !== undefined && this.#controller === own) this.#detach();
      },
    });
  }

  #startKeepAlive(): void {
    const interval = this.#options.keepAliveMs;
    if (interval <= 0) return;
    this.#keepAlive = setInterval(() => this.#write(": keep-alive\n\n"), interval);
    // Never hold a process open for a keep-alive.
    (this.#keepAlive as { unref?: () => void }).unref?.();
  }

  /**
   * Reconnects a client that saw events up to `after`: the store's later events first, then
   * live ones. Runs in send order, so no event is lost or repeated between the two.
   */
  resume(after: number): Promise<ReadableStream<Uint8Array>> {
    const store = this.#options.eventStore;
    const opened = this.#order.then(async () => {
      const events = (await store?.replay(this.id, after)) ?? [];
      // A stream made anew on this instance (a GET stream that moved here) learns from the
      // replay where the shared store stands.
      const last = events.at(-1)?.position ?? after;
      if (last > this.#position) this.#position = last;
      const replay = events
        .map((event) => sseEvent(JSON.stringify(event.message), eventId(this.id, event.position)))
        .join("");
      return this.connect(replay);
    });
    this.#order = opened.catch(() => undefined);
    return opened;
  }

  /**
   * Drops the current connection, keeping the stream: the client may resume it. Runs in send
   * order, so messages sent before the call still go out on this connection.
   */
  disconnect(): void {
    this.#order = this.#order.then(() => this.#disconnectNow());
  }

  #disconnectNow(): void {
    if (!this.#controller) {
      // Not connected yet: the first connection ends right after what is buffered.
      if (!this.#wasConnected) this.#disconnectPending = true;
      return;
    }
    try {
      this.#controller.close();
    } catch {
      // Already closed by the client.
    }
    this.#detach();
  }

  #detach(): void {
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
    const hadConnection = this.#controller !== undefined;
    this.#controller = undefined;
    if (hadConnection) countSseConnections(-1);
    const callback = this.#onConnectionClosed;
    this.#onConnectionClosed = undefined;
    if (hadConnection) callback?.();
  }

  /** Ends the stream after everything sent so far is written. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#order.then(() => this.#finish());
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#endRelay();
    this.#onConnectionClosed = undefined;
    if (this.#controller) {
      try {
        this.#controller.close();
      } catch {
        // The client went first.
      }
    }
    this.#detach();
    this.#options.onClose?.();
  }
}
