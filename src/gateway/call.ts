/**
 * One request forwarded to an upstream, seen as a stream of steps: the upstream's questions
 * (elicitation, sampling, roots) while it runs, word that it became a task upstream, then its
 * result.
 */
import type { Context } from "../mcp/context.ts";
import type { McpError } from "../mcp/jsonrpc.ts";
import type { JsonObject } from "../mcp/types.ts";

/** A question the upstream asked while the call ran, and how to answer it. */
export interface Ask {
  method: string;
  params: JsonObject;
  /**
   * Its input key for a 2026-07-28 caller: the upstream's own key (2026-07-28 upstreams), or
   * `input-<n>` for a 2025 upstream's n-th question; unique over the call's life.
   */
  key: string;
  resolve(answer: JsonObject): void;
  reject(error: unknown): void;
}

export type Step = { result: JsonObject } | { ask: Ask } | { task: true };

/**
 * A forwarded request in flight. `sink` is the downstream request it currently serves: the
 * first one, then each 2026-07-28 retry that resumes it after an input round.
 */
export class UpstreamCall {
  readonly id = crypto.randomUUID().replaceAll("-", "");
  sink: Context;
  /** The questions put to the downstream client whose round closed while the call is parked. */
  pending: Ask[] = [];
  /** Why the downstream client refused the upstream's last question, if it did. */
  refusal: McpError | undefined;
  readonly #controller = new AbortController();
  readonly #queue: Step[] = [];
  /** Input keys given out, so two questions of one call never share one. */
  readonly #keys = new Set<string>();
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
    for (const ask of this.pending) ask.reject(new Error(reason));
    this.pending = [];
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

  /** The upstream made a task of the call. */
  becameTask(): void {
    this.#push({ task: true });
  }

  /** A question from the upstream for whoever this call serves; `upstreamKey` names it. */
  ask(method: string, params: JsonObject, upstreamKey?: string): Promise<JsonObject> {
    const n = ++this.#asked;
    let key = upstreamKey ?? `input-${n}`;
    // An upstream may use a key again in a later round: the caller must tell them apart.
    if (this.#keys.has(key)) key = `${key}.${n}`;
    this.#keys.add(key);
    return new Promise((resolve, reject) => {
      this.#push({ ask: { method, params, key, resolve, reject } });
    });
  }

  /**
   * The next step; undefined once `signal` aborts (no step is taken then). Rejects with the
   * upstream request's failure.
   */
  async next(signal: AbortSignal): Promise<Step | undefined> {
    for (;;) {
      if (signal.aborted) return undefined;
      const step = this.#queue.shift();
      if (step) return step;
      if (this.#failure) throw this.#failure.error;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          resolve();
        };
        this.#wake = done;
        signal.addEventListener("abort", done, { once: true });
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
