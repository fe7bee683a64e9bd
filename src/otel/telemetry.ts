/**
 * What every part of portcullis/otel shares: the tracer and meter it records with, whether
 * anything records at all, and trace context carried in `_meta` (SEP-414) and HTTP headers.
 */
import {
  type Context,
  createNoopMeter,
  type Meter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  propagation,
  type Span,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { McpError } from "../mcp/jsonrpc.ts";
import type { JsonObject } from "../mcp/types.ts";
import { PortcullisError } from "../util/errors.ts";
import { ATTR } from "./attributes.ts";

/** Where telemetry goes. Without these, the globally registered providers. */
export interface TelemetryOptions {
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
}

export const SCOPE = "portcullis";

/** The tracer to use, and a cheap test of whether any SDK stands behind it. */
export interface Tracing {
  readonly tracer: Tracer;
  /** False while the global provider has no SDK behind it: then nothing is built at all. */
  enabled(): boolean;
}

export function tracingOf(options: TelemetryOptions): Tracing {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  const tracer = provider.getTracer(SCOPE);
  if (!(provider instanceof ProxyTracerProvider)) return { tracer, enabled: () => true };
  // The global provider is a proxy until an SDK registers: ask it, per request, whether it
  // has one yet. One method call; no span, no attributes, no context when it has none.
  return { tracer, enabled: () => provider.getDelegateTracer(SCOPE) !== undefined };
}

export function meterOf(options: TelemetryOptions): Meter {
  return (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
}

const NOOP = createNoopMeter();
const NOOP_INSTRUMENTS = new Set<unknown>([
  NOOP.createHistogram(""),
  NOOP.createCounter(""),
  NOOP.createUpDownCounter(""),
  NOOP.createObservableUpDownCounter(""),
]);

/** Whether an instrument came from the no-op meter (no SDK registered when it was made). */
export function isNoop(instrument: unknown): boolean {
  return NOOP_INSTRUMENTS.has(instrument);
}

/** The operation-duration buckets the MCP conventions advise, in seconds. */
export const DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

const metaGetter: TextMapGetter<JsonObject> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === "string" ? value : undefined;
  },
};

const recordSetter: TextMapSetter<Record<string, unknown>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The context carried in a request's `_meta` (traceparent, tracestate, baggage). */
export function extractFromMeta(base: Context, meta: JsonObject): Context {
  return propagation.extract(base, meta, metaGetter);
}

/** The context carried in HTTP headers. */
export function extractFromHeaders(base: Context, header: (name: string) => string | undefined) {
  return propagation.extract(base, header, {
    keys: () => [],
    get: (read, key) => read(key),
  });
}

/** Writes `context` into a `_meta` object or a header record. */
export function inject(context: Context, carrier: Record<string, unknown>): void {
  propagation.inject(context, carrier, recordSetter);
}

/**
 * `error.type` as the MCP conventions want it: the JSON-RPC error code, as a string, for an
 * error reply; a Portcullis error's code; the error's class for anything else.
 */
export function errorType(error: unknown): string {
  if (error instanceof McpError) return String(error.code);
  // Our other errors have stable codes (ERR_TIMEOUT, invalid_grant): lower cardinality than text.
  if (error instanceof PortcullisError) return String(error.code);
  if (error instanceof Error && error.name && error.name !== "Error") return error.name;
  return "_OTHER";
}

/** Whether a tools/call result reports a failed tool (`isError`): `error.type` "tool_error". */
export function isToolError(result: JsonObject | undefined): boolean {
  return result?.isError === true;
}

/** The status message of a failed span: an MCP error's own message, else nothing internal. */
export function messageOf(error: unknown): string {
  return error instanceof McpError ? error.message : "Internal error";
}

/** Ends a span with its outcome: ERROR status and `error.type` when it failed. */
export function finish(span: Span, failure: { type: string; message: string } | undefined): void {
  if (failure && span.isRecording()) {
    span.setAttribute(ATTR.errorType, failure.type);
    // A JSON-RPC error code is also the response's status code in the conventions.
    if (/^-?\d+$/.test(failure.type)) span.setAttribute(ATTR.statusCode, failure.type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
  }
  span.end();
}
