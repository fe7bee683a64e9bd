import type { RelayMessage } from "./shared-wire.ts";

const encoder = new TextEncoder();

/**
 * The connection of a client that resumed here a stream another instance runs: the replay,
 * then the events that instance relays, each once and in order.
 */
export class RemoteStream {
  readonly body: ReadableStream<Uint8Array>;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Relayed events that came before the replay was written. */
  #early: Array<{ chunk: string; position: number }> = [];
  #started = false;
  #ended = false;
  #finished = false;
  #last = 0;
  #answer: ((live: boolean) => void) | undefined;
  readonly #answered: Promise<boolean>;
  /** A liveness check of the owner is waiting for its answer. */
  unanswered = false;

  constructor(keepAliveMs: number, onCancel: () => void) {
    this.#answered = new Promise((resolve) => {
      this.#answer = resolve;
    });
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        if (keepAliveMs > 0) {
          this.#keepAlive = setInterval(() => this.#write(": keep-alive\n\n"), keepAliveMs);
          (this.#keepAlive as { unref?: () => void }).unref?.();
        }
      },
      cancel: () => {
        this.#stop();
        onCancel();
      },
    });
  }

  /** Whether the owner runs the stream (true), or not or not in time (false). */
  answer(timeoutMs: number): Promise<boolean> {
    const timer = setTimeout(() => this.#answer?.(false), timeoutMs);
    return this.#answered.finally(() => clearTimeout(timer));
  }

  /** Takes a relayed message; true once the stream is over. */
  receive(message: RelayMessage): boolean {
    this.unanswered = false;
    switch (message.t) {
      case "alive":
        return false;
      case "live":
        this.#answer?.(true);
        return false;
      case "gone":
        this.#answer?.(false);
        return false;
      case "event":
        if (this.#started) this.#event(message.d, message.p);
        else this.#early.push({ chunk: message.d, position: message.p });
        return false;
      case "end":
        this.#ended = true;
        this.#answer?.(false);
        if (this.#started) this.finish();
        return this.#started;
    }
  }

  /** Writes the replay, then what was relayed meanwhile. */
  start(replay: string, lastPosition: number): void {
    if (replay) this.#write(replay);
    this.#last = lastPosition;
    this.#started = true;
    for (const { chunk, position } of this.#early) this.#event(chunk, position);
    this.#early = [];
    if (this.#ended) this.finish();
  }

  #event(chunk: string, position: number): void {
    // The replay may already hold it.
    if (position <= this.#last) return;
    this.#last = position;
    this.#write(chunk);
  }

  #write(chunk: string): void {
    try {
      this.#controller?.enqueue(encoder.encode(chunk));
    } catch {
      this.#stop();
    }
  }

  get finished(): boolean {
    return this.#finished;
  }

  finish(): void {
    if (this.#finished) return;
    this.#answer?.(false);
    const controller = this.#controller;
    this.#stop();
    try {
      controller?.close();
    } catch {
      // The client went first.
    }
  }

  #stop(): void {
    this.#finished = true;
    clearInterval(this.#keepAlive);
    this.#controller = undefined;
  }
}
