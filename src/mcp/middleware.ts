import type { Context as HonoContext } from "hono";
import { isObject } from "./content.ts";
import { asMcpError, ErrorCode, type JsonRpcRequest, McpError, type RequestId } from "./jsonrpc.ts";
import type { AuthInfo, Exchange } from "./peer.ts";
import type { JsonObject } from "./types.ts";
import { isModernVersion } from "./versions.ts";

/**
 * The protocol era of a request: "session" for the 2025 revisions (initialize, sessions),
 * "stateless" for 2026-07-28 (`_meta` on every request).
 */
export type EraName = "session" | "stateless";

/** What a middleware or error handler may return: nothing keeps what there is. */
// biome-ignore lint/suspicious/noConfusingVoidType: `async () => {}` returns Promise<void>
type Maybe<T> = T | undefined | void;

/** Runs the rest of the pipeline (later middleware, then the handler) and resolves to its result. */
export type Next = () => Promise<JsonObject>;

/**
 * Wraps every request the server answers, in both eras and on every transport. Call `next()`
 * to go on; return a result without calling it to answer yourself; throw an `McpError` to
 * refuse. A returned object replaces the result; returning nothing keeps `ctx.result`.
 */
export type Middleware = (
  ctx: MiddlewareContext,
  next: Next,
) => Promise<Maybe<JsonObject>> | Maybe<JsonObject>;

/**
 * Sees an error thrown past the handlers and middleware. Return an `McpError` to answer with
 * it instead; return nothing to keep the default (an `McpError` as thrown, anything else an
 * internal error without its details).
 */
export type ErrorHandler = (
  error: unknown,
  ctx: MiddlewareContext,
) => Maybe<McpError> | Promise<Maybe<McpError>>;

/** What a middleware knows about one request, and after `await next()`, how it went. */
export class MiddlewareContext {
  readonly requestId: RequestId;
  readonly method: string;
  /** The request's params, `_meta` included. */
  readonly params: JsonObject;
  /** The tool or prompt name, or the resource URI, the request is about. */
  readonly name: string | undefined;
  /** The arguments of tools/call and prompts/get. */
  readonly arguments: JsonObject | undefined;
  /** The request's `_meta`. */
  readonly meta: JsonObject | undefined;
  readonly protocolVersion: string;
  readonly era: EraName;
  /** The 2025 session the request belongs to (Mcp-Session-Id), if any. */
  readonly sessionId: string | undefined;
  /** The verified caller, on a protected endpoint (or as the embedding application set it). */
  readonly auth: AuthInfo | undefined;
  /** The Hono context, when the request came over HTTP. */
  readonly http: HonoContext | undefined;
  /** The result, once `next()` resolved (or a middleware set it). */
  result: JsonObject | undefined;
  /** What `next()` threw, if it threw. */
  error: unknown;
  readonly #exchange: Exchange;

  constructor(request: JsonRpcRequest, exchange: Exchange) {
    const params = request.params ?? {};
    this.requestId = request.id;
    this.method = request.method;
    this.params = params;
    this.name = nameOf(request.method, params);
    this.arguments =
      (request.method === "tools/call" || request.method === "prompts/get") &&
      isObject(params.arguments)
        ? params.arguments
        : undefined;
    this.meta = isObject(params._meta) ? params._meta : undefined;
    this.protocolVersion = exchange.peer.protocolVersion;
    this.era = isModernVersion(this.protocolVersion) ? "stateless" : "session";
    this.sessionId = exchange.peer.sessionId;
    this.auth = exchange.auth;
    this.http = exchange.http;
    this.#exchange = exchange;
  }

  /**
   * Aborts when the client goes away. Read from the transport when asked: a transport makes
   * its signal on first use, and most requests never need one.
   */
  get signal(): AbortSignal | undefined {
    return this.#exchange.signal;
  }
}

/** The tool, prompt, resource or task a request is about. */
function nameOf(method: string, params: JsonObject): string | undefined {
  const source = method === "completion/complete" && isObject(params.ref) ? params.ref : params;
  const value = method.startsWith("resources/")
    ? source.uri
    : method.startsWith("tasks/")
      ? source.taskId
      : (source.name ?? source.uri);
  return typeof value === "string" ? value : undefined;
}

/**
 * Where `use` puts a middleware: "inner" (default) after the access rules; "outermost" before
 * them, so it sees every request, refused ones included (tracing, timing); "innermost" after
 * every "inner" one, next to the handler. Within a position the first added is the outer one.
 * An outermost middleware that answers without calling `next()` skips the scope checks.
 */
export type MiddlewarePosition = "inner" | "outermost" | "innermost";

/** Which requests a middleware runs for; the others pass it by without a pipeline step. */
export type MiddlewareCondition = (ctx: MiddlewareContext) => boolean;

/** A middleware in the chain, with the condition it was added under, if any. */
export interface PipelineStep {
  readonly run: Middleware;
  readonly when: MiddlewareCondition | undefined;
}

/** Runs `steps` in registration order around `core`: the first registered is outermost. */
export function runPipeline(
  steps: readonly PipelineStep[],
  ctx: MiddlewareContext,
  core: () => Promise<JsonObject>,
): Promise<JsonObject> {
  const kept = (result: JsonObject): JsonObject => {
    ctx.result = result;
    ctx.error = undefined;
    return result;
  };
  const lost = (error: unknown): never => {
    ctx.result = undefined;
    ctx.error = error;
    throw error;
  };
  const finish = (returned: Maybe<JsonObject>): JsonObject => {
    if (returned !== undefined) ctx.result = returned;
    if (ctx.result === undefined) throw new McpError(ErrorCode.InternalError, "Internal error");
    return ctx.result;
  };
  // Plain promise chains, not async functions: this runs on every request.
  const step = (from: number): Promise<JsonObject> => {
    let index = from;
    // A step whose condition says no costs one call, not a promise.
    while (index < steps.length && steps[index]!.when?.(ctx) === false) index++;
    if (index === steps.length) return core();
    let called = false;
    const next: Next = () => {
      if (called) return Promise.reject(new Error("A middleware called next() twice"));
      called = true;
      return step(index + 1).then(kept, lost);
    };
    try {
      return Promise.resolve(steps[index]!.run(ctx, next)).then(finish);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return step(0);
}

/**
 * The error a request is answered with: what `onError` maps it to, else `fallback` (an
 * `McpError` as thrown, anything else an internal error, logged with an id).
 */
export async function mapError(
  handler: ErrorHandler | undefined,
  error: unknown,
  ctx: MiddlewareContext,
  fallback: (error: unknown) => McpError = asMcpError,
): Promise<McpError> {
  if (handler) {
    try {
      const mapped = await handler(error, ctx);
      if (mapped instanceof McpError) return mapped;
    } catch {
      // An error handler that fails leaves the default answer.
    }
  }
  return fallback(error);
}

/**
 * A server's middleware in running order (outermost, inner, innermost; within each the first
 * added is the outer one) and what maps errors thrown past them.
 */
export class MiddlewareChain {
  readonly #inner: PipelineStep[];
  readonly #outermost: PipelineStep[] = [];
  readonly #innermost: PipelineStep[] = [];
  /** The whole chain in running order, rebuilt by `add`. */
  middleware: readonly PipelineStep[];
  onError: ErrorHandler | undefined;

  /** `first` are the inner position's first members (the access rules). */
  constructor(first: readonly Middleware[]) {
    this.#inner = first.map((run) => ({ run, when: undefined }));
    this.middleware = this.#inner;
  }

  add(run: Middleware, position: MiddlewarePosition, when?: MiddlewareCondition): void {
    const step = { run, when };
    if (position === "outermost") this.#outermost.push(step);
    else if (position === "innermost") this.#innermost.push(step);
    else this.#inner.push(step);
    this.middleware = [...this.#outermost, ...this.#inner, ...this.#innermost];
  }
}
