/**
 * The server side: a SERVER span and a duration per MCP request, as the outermost middleware
 * (so refused requests count too), and an INTERNAL span around each tool's handler.
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from "@opentelemetry/api";
import { McpError } from "../mcp/jsonrpc.ts";
import type { Middleware, MiddlewareContext, Next } from "../mcp/middleware.ts";
import type { McpServer } from "../mcp/server.ts";
import { ATTR, targetOf } from "./attributes.ts";
import { observeTransport, type ServerMeters, serverMeters } from "./metrics.ts";
import {
  errorType,
  extractFromHeaders,
  extractFromMeta,
  finish,
  isToolError,
  messageOf,
  type TelemetryOptions,
  type Tracing,
  tracingOf,
} from "./telemetry.ts";

/**
 * Traces and measures every request `server` answers, in both eras and on every transport.
 * The span's parent is the trace context in the request's `_meta` (SEP-414), else in its
 * `traceparent`/`tracestate` headers, else the active context; a header context that differs
 * from the `_meta` one is linked. Also reports the transport's open sessions and SSE
 * connections. Register the OpenTelemetry SDK before calling this: the instruments are made
 * now, and stay no-ops without a meter provider.
 */
export function instrumentServer(server: McpServer, options: TelemetryOptions = {}): McpServer {
  const tracing = tracingOf(options);
  const meters = serverMeters(options);
  observeTransport(options);
  const parents = new WeakMap<MiddlewareContext, Context>();
  // With nothing registered the layer is not even a pipeline step: `when` passes it by, and
  // an SDK registered later is found on the next request.
  server.use(requestSpans(tracing, meters, parents), {
    position: "outermost",
    when: () => tracing.enabled() || meters.enabled,
  });
  server.use(handlerSpans(tracing, parents), {
    position: "innermost",
    when: (ctx) => ctx.method === "tools/call" && tracing.enabled(),
  });
  return server;
}

function requestSpans(
  tracing: Tracing,
  meters: ServerMeters,
  parents: WeakMap<MiddlewareContext, Context>,
): Middleware {
  return async (ctx: MiddlewareContext, next: Next) => {
    const tracingOn = tracing.enabled();
    const started = performance.now();
    const target = targetOf(ctx.method, ctx.name);
    let span: Span | undefined;
    let active: Context | undefined;
    if (tracingOn) {
      const { parent, links } = parentOf(ctx);
      span = tracing.tracer.startSpan(
        target.spanName,
        { kind: SpanKind.SERVER, ...(links && { links }) },
        parent,
      );
      if (span.isRecording()) span.setAttributes(requestAttributes(ctx, target.key, true));
      active = trace.setSpan(parent, span);
      parents.set(ctx, active);
    }
    let failure: { type: string; message: string } | undefined;
    try {
      const result = await (active ? context.with(active, next) : next());
      if (ctx.method === "tools/call" && isToolError(result)) {
        failure = { type: "tool_error", message: "The tool reported an error" };
      }
      return result;
    } catch (error) {
      failure = { type: errorType(error), message: messageOf(error) };
      if (error instanceof McpError && rateLimited(error)) meters.rateLimited(ctx);
      throw error;
    } finally {
      if (span) finish(span, failure);
      if (meters.enabled) {
        const attributes = requestAttributes(ctx, target.key, false);
        if (failure) attributes[ATTR.errorType] = failure.type;
        meters.duration.record((performance.now() - started) / 1000, attributes);
      }
    }
  };
}

function handlerSpans(tracing: Tracing, parents: WeakMap<MiddlewareContext, Context>): Middleware {
  return async (ctx: MiddlewareContext, next: Next) => {
    const parent = parents.get(ctx) ?? context.active();
    const span = tracing.tracer.startSpan(
      `execute_tool ${ctx.name ?? ""}`.trimEnd(),
      { kind: SpanKind.INTERNAL },
      parent,
    );
    if (span.isRecording()) {
      span.setAttribute(ATTR.operation, "execute_tool");
      if (ctx.name !== undefined) span.setAttribute(ATTR.toolName, ctx.name);
    }
    let failure: { type: string; message: string } | undefined;
    try {
      const result = await context.with(trace.setSpan(parent, span), next);
      if (isToolError(result)) {
        failure = { type: "tool_error", message: "The tool reported an error" };
      }
      return result;
    } catch (error) {
      failure = { type: errorType(error), message: messageOf(error) };
      throw error;
    } finally {
      finish(span, failure);
    }
  };
}

/** The parent context (from `_meta`, else headers, else ambient), and links to the others. */
function parentOf(ctx: MiddlewareContext): { parent: Context; links: Link[] | undefined } {
  const ambient = context.active();
  const http = ctx.http;
  const fromHeaders = http
    ? extractFromHeaders(ambient, (name) => http.req.header(name))
    : undefined;
  const fromMeta = ctx.meta ? extractFromMeta(ROOT_CONTEXT, ctx.meta) : undefined;
  const metaSpan = fromMeta && trace.getSpanContext(fromMeta);
  if (!metaSpan) return { parent: fromHeaders ?? ambient, links: undefined };
  // The conventions: the `_meta` context is the parent; the transport's context is linked.
  const transportSpan = trace.getSpanContext(fromHeaders ?? ambient);
  const links =
    transportSpan && transportSpan.spanId !== metaSpan.spanId
      ? [{ context: transportSpan }]
      : undefined;
  return { parent: fromMeta, links };
}

function requestAttributes(
  ctx: MiddlewareContext,
  targetKey: string | undefined,
  forSpan: boolean,
): Attributes {
  const attributes: Attributes = {
    [ATTR.method]: ctx.method,
    [ATTR.protocolVersion]: ctx.protocolVersion,
  };
  if (targetKey !== undefined && ctx.name !== undefined) {
    // A resource URI is too varied for a metric's attributes (the conventions make it opt-in).
    if (forSpan || targetKey !== ATTR.resourceUri) attributes[targetKey] = ctx.name;
  }
  if (ctx.method === "tools/call") attributes[ATTR.operation] = "execute_tool";
  if (ctx.http) {
    attributes[ATTR.transport] = "tcp";
    attributes[ATTR.protocolName] = "http";
  }
  if (!forSpan) return attributes;
  attributes[ATTR.requestId] = String(ctx.requestId);
  if (ctx.sessionId !== undefined) attributes[ATTR.sessionId] = ctx.sessionId;
  const socket = socketOf(ctx);
  if (socket?.remoteAddress) {
    attributes[ATTR.clientAddress] = socket.remoteAddress;
    if (socket.remotePort !== undefined) attributes[ATTR.clientPort] = socket.remotePort;
  }
  return attributes;
}

/** The peer's address where the runtime tells it (Node's incoming socket). */
function socketOf(
  ctx: MiddlewareContext,
): { remoteAddress?: string; remotePort?: number } | undefined {
  const env = ctx.http?.env as { incoming?: { socket?: object } } | undefined;
  return env?.incoming?.socket as { remoteAddress?: string; remotePort?: number } | undefined;
}

/** A refusal for going over a rate limit: an error carrying a retry hint. */
function rateLimited(error: McpError): boolean {
  const data = error.data as { retryAfterSeconds?: unknown } | undefined;
  return typeof data?.retryAfterSeconds === "number";
}
