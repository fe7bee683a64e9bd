/**
 * The client side: a CLIENT span and a duration per request, and the span's context written
 * into the request's `_meta` (SEP-414) and, over HTTP, its `traceparent` header, so the
 * server's span continues the client's trace.
 */
import { type Attributes, context, type Histogram, SpanKind, trace } from "@opentelemetry/api";
import type { McpClient } from "../client/client.ts";
import type { ClientMiddleware, OutgoingRequestInfo } from "../client/options.ts";
import { isObject } from "../mcp/content.ts";
import type { JsonObject } from "../mcp/types.ts";
import { ATTR, targetOf } from "./attributes.ts";
import { clientDuration } from "./metrics.ts";
import {
  errorType,
  finish,
  inject,
  isNoop,
  isToolError,
  messageOf,
  type TelemetryOptions,
  type Tracing,
  tracingOf,
} from "./telemetry.ts";

/**
 * Traces and measures every request `client` sends, the handshake included, and writes the
 * trace context into each request so the server continues the trace. The request's span is a
 * child of the context active when the call was made.
 */
export function instrumentClient(client: McpClient, options: TelemetryOptions = {}): McpClient {
  return client.use(clientSpans(tracingOf(options), clientDuration(options)));
}

function clientSpans(tracing: Tracing, duration: Histogram): ClientMiddleware {
  const measuring = !isNoop(duration);
  const traced = async (
    request: OutgoingRequestInfo,
    next: () => Promise<JsonObject>,
    tracingOn: boolean,
  ) => {
    const started = performance.now();
    const name = nameOf(request);
    const target = targetOf(request.method, name);
    const parent = context.active();
    const span = tracingOn
      ? tracing.tracer.startSpan(target.spanName, { kind: SpanKind.CLIENT }, parent)
      : undefined;
    if (span) {
      const active = trace.setSpan(parent, span);
      const meta: JsonObject = isObject(request.params._meta) ? { ...request.params._meta } : {};
      inject(active, meta);
      request.params._meta = meta;
      if (request.url) inject(active, request.headers);
    }
    let failure: { type: string; message: string } | undefined;
    try {
      const result = await next();
      if (request.method === "tools/call" && isToolError(result)) {
        failure = { type: "tool_error", message: "The tool reported an error" };
      }
      return result;
    } catch (error) {
      failure = { type: errorType(error), message: messageOf(error) };
      throw error;
    } finally {
      if (span) {
        if (span.isRecording()) span.setAttributes(attributesOf(request, target.key, name, true));
        finish(span, failure);
      }
      if (measuring) {
        const attributes = attributesOf(request, target.key, name, false);
        if (failure) attributes[ATTR.errorType] = failure.type;
        duration.record((performance.now() - started) / 1000, attributes);
      }
    }
  };
  return (request, next) => {
    const tracingOn = tracing.enabled();
    return tracingOn || measuring ? traced(request, next, tracingOn) : next();
  };
}

/** The tool or prompt name, or the resource URI, a request is about. */
function nameOf(request: OutgoingRequestInfo): string | undefined {
  const value = request.method.startsWith("resources/") ? request.params.uri : request.params.name;
  return typeof value === "string" ? value : undefined;
}

function attributesOf(
  request: OutgoingRequestInfo,
  targetKey: string | undefined,
  name: string | undefined,
  forSpan: boolean,
): Attributes {
  const attributes: Attributes = { [ATTR.method]: request.method };
  if (request.protocolVersion !== undefined) {
    attributes[ATTR.protocolVersion] = request.protocolVersion;
  }
  if (targetKey !== undefined && name !== undefined) {
    if (forSpan || targetKey !== ATTR.resourceUri) attributes[targetKey] = name;
  }
  if (request.method === "tools/call") attributes[ATTR.operation] = "execute_tool";
  const url = request.url;
  if (url) {
    attributes[ATTR.transport] = "tcp";
    attributes[ATTR.protocolName] = "http";
    attributes[ATTR.serverAddress] = url.hostname;
    attributes[ATTR.serverPort] = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  }
  if (!forSpan) return attributes;
  if (request.id !== undefined) attributes[ATTR.requestId] = String(request.id);
  if (request.sessionId !== undefined) attributes[ATTR.sessionId] = request.sessionId;
  return attributes;
}
