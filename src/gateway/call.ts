/**
 * One request forwarded to an upstream, seen as a stream of steps: the upstream's questions
 * (elicitation, sampling, roots) while it runs, then its result.
 */
import type { Context } from "../mcp/context.ts";
import type { McpError } from "../mcp/jsonrpc.ts";
import type { JsonObject } from "../mcp/types.ts";

/** A question the upstream asked while the call ran, and how to answer it. */
export interface Ask {
  method: string;
  params: JsonObject;
  /** Position among the call's questions, from 1: names it in a 2026-07-28 round. */
  n: number;
  resolve(answer: JsonObject): void;
  reject(error: unknown): void;
}

export type Step = { result: JsonObject } | { ask: Ask };

/**
 * A forwarded request in flight. `sink` is the downstream request it currently serves: the
 * first one, then each 2026-07-28 retry that resumes it after an input round.
 */
export class UpstreamCall {
  readonly id = crypto.randomUUID().replaceAll("-", "");
  sink: Context;
  /** The question waiting for the downstream client while the call is parked. */
  pending: Ask | undefined;
  /** Why the downstream client refused the upstream's last question, if it did. */
  refusal: McpError | undefined;
  readonly #controller = new AbortController();
  readonly #queue: Step[] = [];
  #wake: (() => void) | undefined;
  #failure: { error: unknown } | undefined;
  #asked = 0;

  constructor(sink: Context) {
    this.sink = sink;
  }

  /** Aborts the upstream request (the caller cancelled, or nobody came back for it). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  cancel(reason: string): void {
    this.#controller.abort(new Error(reason));
    this.pending?.reject(new Error(reason));
    this.pending = undefined;
  }

  /** Follows the upstream request: its result or failure ends the call. */
  follow(request: Promise<JsonObject>): void {
    request.then(
      (result) => this.#push({ result }),
      (error: unknown) => {
        this.#failure = { error };
        this.#wakeUp();
      },
    );
  }

  /** A question from the upstream for whoever this call serves. */
  ask(method: string, params: JsonObject): Promise<JsonObject> {
    return new Promise((resolve, reject) => {
      this.#push({ ask: { method, params, n: ++this.#asked, resolve, reject } });
    });
  }

  /** The next step; rejects with the upstream request's failure. */
  async next(): Promise<Step> {
    for (;;) {
      const step = this.#queue.shift();
      if (step) return step;
      if (this.#failure) throw this.#failure.error;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #push(step: Step): void {
    this.#queue.push(step);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
