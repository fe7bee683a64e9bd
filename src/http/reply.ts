import type { JsonRpcMessage, JsonRpcResponse } from "../mcp/jsonrpc.ts";
import { SSE_HEADERS, SseStream, type SseStreamOptions } from "./sse.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };
const STARTED = Symbol("started");
const nothing = () => {};

/**
 * How a POST's reply goes out, in either era: one JSON body; SSE, as one body when everything
 * is ready at once and as a live stream when a handler sends something first (or stays
 * silent past one keep-alive interval); or a live stream from the start (a resumable reply,
 * whose client must learn the priming id at once).
 */
export type ReplyMode = "json" | "sse" | "stream";

export interface ReplyOptions {
  mode: ReplyMode;
  /** The reply stream's id and options (SSE and stream modes). */
  streamId?: string;
  stream?: SseStreamOptions;
  /** The body was a batch: the JSON reply is an array. */
  batch: boolean;
  /** The status of a reply made at once from one response. Default 200. */
  status?: (response: JsonRpcResponse) => number;
  /**
   * A whole HTTP reply to send instead of a reply made at once from one response (not a
   * batch), when it returns one: the 401 challenge for `AuthorizationRequired`.
   */
  instead?: ((response: JsonRpcResponse) => Response | undefined) | undefined;
}

/**
 * The reply step both eras share: responses and the messages of running requests go in,
 * one Response comes out (`finish`). An era decides what its requests may send and where;
 * this decides only how the reply is carried.
 */
export class Reply {
  readonly mode: ReplyMode;
  /** The reply stream; undefined for a JSON reply. */
  readonly stream: SseStream | undefined;
  /** Called when the client closes a live reply stream before it is complete. */
  onDisconnect: () => void = nothing;
  readonly #batch: boolean;
  readonly #status: ((response: JsonRpcResponse) => number) | undefined;
  readonly #instead: ((response: JsonRpcResponse) => Response | undefined) | undefined;
  readonly #keepAliveMs: number;
  /** JSON mode: each response's JSON, by the request's place in the POST. */
  readonly #answers: (string | undefined)[] = [];
  #single: JsonRpcResponse | undefined;
  #live: () => void = nothing;
  readonly #started: Promise<typeof STARTED> | undefined;

  constructor(options: ReplyOptions) {
    this.mode = options.mode;
    this.#batch = options.batch;
    this.#status = options.status;
    this.#instead = options.instead;
    this.#keepAliveMs = options.stream?.keepAliveMs ?? 0;
    if (options.mode !== "json") {
      this.stream = new SseStream(options.streamId ?? "", options.stream ?? { keepAliveMs: 0 });
      this.#started = new Promise((resolve) => {
        this.#live = () => resolve(STARTED);
      });
    }
  }

  /** A message of a running request on the reply stream, which then goes live. */
  send(message: JsonRpcMessage): void {
    void this.stream?.send(message);
    this.#live();
  }

  /** The reply goes live without a message (a request that waits on the client). */
  goLive(): void {
    this.#live();
  }

  /** A request's response, with its JSON serialized once, and its place in the POST. */
  deliver(response: JsonRpcResponse, json: string, index: number): Promise<void> | undefined {
    this.#single = response;
    if (this.stream) return this.stream.send(response, json);
    this.#answers[index] = json;
    return undefined;
  }

  /** The Response, once `done` settles or the reply goes live, whichever is first. */
  async finish(done: Promise<void>): Promise<Response> {
    const stream = this.stream;
    if (!stream) {
      await done;
      // In request order; nothing is owed for cancelled requests.
      const replies = this.#answers.filter((json) => json !== undefined);
      if (replies.length === 0) return new Response(null, { status: 202 });
      const instead = this.#replacement();
      if (instead) return instead;
      return new Response(this.#batch ? `[${replies.join(",")}]` : replies[0], {
        status: this.#statusOf(),
        headers: JSON_HEADERS,
      });
    }
    if (this.mode === "sse") {
      // A handler still silent after one keep-alive interval gets a stream anyway: without it
      // the client, and any proxy between, would see no byte until the handler finished.
      const timer = this.#keepAliveMs > 0 ? setTimeout(this.#live, this.#keepAliveMs) : undefined;
      const first = await Promise.race([done, this.#started]);
      clearTimeout(timer);
      if (first !== STARTED) {
        // Everything was ready at once: one complete body, no stream machinery.
        const body = stream.takeBuffered();
        if (!body) return new Response(null, { status: 202 });
        const instead = this.#replacement();
        if (instead) return instead;
        return new Response(body, { status: this.#statusOf(), headers: SSE_HEADERS });
      }
    }
    void done.then(() => stream.close());
    return new Response(
      stream.connect("", () => this.onDisconnect()),
      { headers: SSE_HEADERS },
    );
  }

  #replacement(): Response | undefined {
    return !this.#batch && this.#single && this.#instead ? this.#instead(this.#single) : undefined;
  }

  #statusOf(): number {
    return !this.#batch && this.#single && this.#status ? this.#status(this.#single) : 200;
  }
}
