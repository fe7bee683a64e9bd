/**
 * Carries an upstream's questions to the downstream client through the request's Context, so
 * they take the shape of the client's era: server-to-client requests for a 2025 client,
 * input rounds for a 2026-07-28 one. A call whose round closes is parked here, still running
 * upstream, until the client's retry brings the answers back: the retry finds it by the call
 * id the handler carried in the round's sealed requestState (`ctx.carry`).
 */

import { isObject } from "../mcp/content.ts";
import type { Context } from "../mcp/context.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import { principalOf } from "../mcp/peer.ts";
import type { CreateMessageParams, JsonObject } from "../mcp/types.ts";
import type { Clock } from "../util/clock.ts";
import type { Ask, UpstreamCall } from "./call.ts";

/** Asks the downstream client what the upstream asked, in the client's era. */
async function askDownstream(ctx: Context, ask: Ask): Promise<JsonObject> {
  const p = ask.params;
  const key = ask.key;
  const message = typeof p.message === "string" ? p.message : "";
  switch (ask.method) {
    case "elicitation/create":
      if (p.mode === "url") {
        const request = { mode: "url" as const, message, url: String(p.url ?? "") };
        const id = typeof p.elicitationId === "string" ? { elicitationId: p.elicitationId } : {};
        return { ...(await ctx.elicit({ ...request, ...id }, { key })) };
      }
      return {
        ...(await ctx.elicit(
          { message, schema: (p.requestedSchema ?? { type: "object" }) as JsonObject },
          { key },
        )),
      };
    case "sampling/createMessage":
      return { ...(await ctx.sample(p as unknown as CreateMessageParams, { key })) };
    case "roots/list":
      return { roots: await ctx.listRoots({ key }) } as unknown as JsonObject;
  }
  throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${ask.method}`);
}

/** Whether the request's run ended because its 2026-07-28 round closed (not a cancellation). */
function roundClosed(ctx: Context): boolean {
  const reason: unknown = ctx.signal.reason;
  // A task has no rounds: its signal aborts when the task is cancelled or expires.
  return (
    ctx.signal.aborted &&
    !ctx.cancelled &&
    ctx.taskId === undefined &&
    reason instanceof McpError &&
    reason.code === ErrorCode.RequestTimeout
  );
}

interface Parked {
  call: UpstreamCall;
  /** Who may resume it, and on which method and name. */
  owner: string;
  expires: number;
}

/**
 * Calls waiting for a 2026-07-28 client's retry. Each is bound to its caller and request;
 * one nobody comes back for is cancelled upstream once its time is up.
 */
export class Parking {
  readonly #parked = new Map<string, Parked>();
  readonly #clock: Clock;
  readonly #ttlMs: number;

  constructor(clock: Clock, ttlMs: number) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#parked.size;
  }

  /** The parked call this request resumes, taken out; undefined for a fresh request. */
  resume(ctx: Context, what: string): UpstreamCall | undefined {
    this.sweep();
    const id = carriedCall(ctx);
    if (id === undefined) return undefined;
    const parked = this.#parked.get(id);
    if (!parked || parked.owner !== ownerOf(ctx, what)) {
      throw new McpError(
        ErrorCode.InvalidParams,
        "Invalid inputResponses: the upstream call they answer is gone; send the request again without them",
      );
    }
    this.#parked.delete(id);
    parked.call.sink = ctx;
    return parked.call;
  }

  /**
   * Marks `call` as the one this request serves, so a retry after an input round resumes it.
   * Carried in the round's sealed state: bound to the caller, method and arguments.
   */
  claim(call: UpstreamCall, ctx: Context): void {
    ctx.carry({ [CARRIED]: call.id });
  }

  park(call: UpstreamCall, ctx: Context, what: string): void {
    this.sweep();
    this.#parked.set(call.id, {
      call,
      owner: ownerOf(ctx, what),
      expires: this.#clock() + this.#ttlMs,
    });
  }

  /** Cancels the calls nobody came back for in time. */
  sweep(): void {
    const now = this.#clock();
    for (const [id, parked] of this.#parked) {
      if (parked.expires >= now) continue;
      this.#parked.delete(id);
      parked.call.cancel("No answer came back for the upstream's question in time");
    }
  }

  /** Cancels every parked call (the gateway closes). */
  clear(): void {
    for (const parked of this.#parked.values()) parked.call.cancel("The gateway closed");
    this.#parked.clear();
  }

  /**
   * Serves a call to its end: passes the upstream's questions to the client (all of a round's
   * at once, so a 2026-07-28 caller sees them in one round, under their keys) and the answers
   * back, and resolves with the upstream's result. When a 2026-07-28 round closes, the call
   * is parked with its open questions and this run ends (the framework already answered).
   */
  async relay(call: UpstreamCall, ctx: Context, what: string): Promise<JsonObject> {
    const onAbort = () => {
      if (!roundClosed(ctx)) call.cancel("The caller cancelled the request");
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    // Node keeps a composite signal (AbortSignal.any) in memory while it has listeners and has
    // not aborted: a call that ends must let go of it, or every call's signals stay.
    try {
      return await this.#serve(call, ctx, what);
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
    }
  }

  async #serve(call: UpstreamCall, ctx: Context, what: string): Promise<JsonObject> {
    /** Questions put to the client and not answered yet. */
    const open = new Set<Ask>();
    const put = (ask: Ask) => {
      open.add(ask);
      askDownstream(ctx, ask).then(
        (answer) => {
          open.delete(ask);
          call.refusal = undefined;
          ask.resolve(answer);
        },
        (error: unknown) => {
          // The round closed: the question goes on waiting with the parked call.
          if (roundClosed(ctx)) return;
          open.delete(ask);
          // The client could not or would not answer: the upstream hears it as an error.
          call.refusal = error instanceof McpError ? error : undefined;
          ask.reject(error);
        },
      );
    };
    const resumed = call.pending;
    call.pending = [];
    for (const ask of resumed) put(ask);
    for (;;) {
      const step = await call.next(ctx.signal);
      if (step === undefined) {
        if (roundClosed(ctx)) {
          call.pending = [...open];
          this.park(call, ctx, what);
        }
        throw ctx.signal.reason;
      }
      if ("result" in step) return step.result;
      // The upstream answered with a task: so does the gateway, where the caller can take one.
      if ("task" in step) await ctx.startTask();
      else put(step.ask);
    }
  }
}

/** The key under which a handler carries the id of its parked upstream call. */
const CARRIED = "gateway.upstreamCall";

/** The upstream call an earlier run of this request carried, if any. */
function carriedCall(ctx: Context): string | undefined {
  const carried = ctx.carried;
  const id = isObject(carried) ? carried[CARRIED] : undefined;
  return typeof id === "string" ? id : undefined;
}

function ownerOf(ctx: Context, what: string): string {
  return JSON.stringify([principalOf(ctx.auth), ctx.method, what]);
}
