/**
 * The instruments, by the names and units of the conventions where they have one
 * (`mcp.*.operation.duration`, seconds) and under `portcullis.` where they do not.
 */
import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";
import { transportStats } from "../http/stats.ts";
import type { MiddlewareContext } from "../mcp/middleware.ts";
import { ATTR } from "./attributes.ts";
import { DURATION_BUCKETS, isNoop, meterOf, type TelemetryOptions } from "./telemetry.ts";

/** Refusals for going over a rate limit, MCP calls and authorization-server requests alike. */
export const RATE_LIMIT_METRIC = "portcullis.rate_limit.refusals";

export interface ServerMeters {
  /** False when no meter provider was registered: then nothing is measured. */
  readonly enabled: boolean;
  readonly duration: Histogram;
  rateLimited(ctx: MiddlewareContext): void;
}

export function serverMeters(options: TelemetryOptions): ServerMeters {
  const meter = meterOf(options);
  const duration = meter.createHistogram("mcp.server.operation.duration", {
    description:
      "MCP request duration as observed on the receiver, from when it was received until the result was ready.",
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const refusals = rateLimitCounter(options);
  return {
    enabled: !isNoop(duration),
    duration,
    rateLimited: (ctx) => {
      const attributes: Attributes = { [ATTR.rateLimitScope]: "mcp", [ATTR.method]: ctx.method };
      if (ctx.method === "tools/call" && ctx.name !== undefined) {
        attributes[ATTR.toolName] = ctx.name;
      }
      refusals.add(1, attributes);
    },
  };
}

export function clientDuration(options: TelemetryOptions): Histogram {
  return meterOf(options).createHistogram("mcp.client.operation.duration", {
    description:
      "MCP request duration as observed on the sender, from when it was sent until the response was received.",
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
}

/**
 * The rate-limit refusal counter, for any code that refuses a request for going over a limit
 * (`portcullis.rate_limit.scope` says whose limit: "mcp", "oauth", or your own).
 */
export function rateLimitCounter(options: TelemetryOptions = {}): Counter {
  return meterOf(options).createCounter(RATE_LIMIT_METRIC, {
    description: "Requests refused for going over a rate limit.",
    unit: "{request}",
  });
}

export interface AuthorizationMeters {
  readonly enabled: boolean;
  readonly duration: Histogram;
  readonly tokensIssued: Counter;
  readonly refreshRotations: Counter;
  readonly refreshReuse: Counter;
  readonly rateLimited: Counter;
}

export function authorizationMeters(options: TelemetryOptions): AuthorizationMeters {
  const meter = meterOf(options);
  const duration = meter.createHistogram("http.server.request.duration", {
    description: "Duration of the authorization server's HTTP requests.",
    unit: "s",
  });
  return {
    enabled: !isNoop(duration),
    duration,
    tokensIssued: meter.createCounter("portcullis.oauth.tokens.issued", {
      description: "Access tokens issued by the token endpoint, by grant type.",
      unit: "{token}",
    }),
    refreshRotations: meter.createCounter("portcullis.oauth.refresh.rotations", {
      description: "Refresh tokens exchanged for a new one (rotation).",
      unit: "{token}",
    }),
    refreshReuse: meter.createCounter("portcullis.oauth.refresh.reuse_detected", {
      description: "Used refresh tokens presented again: each revokes its grant.",
      unit: "{event}",
    }),
    rateLimited: rateLimitCounter(options),
  };
}

/** Meters that report the transport gauges already: one report per process and meter. */
const observing = new WeakSet<Meter>();

/**
 * Gauges of what the HTTP transport holds open in this process: 2025 sessions and SSE
 * connections. Read when the SDK collects; nothing is done per request.
 */
export function observeTransport(options: TelemetryOptions): void {
  const meter = meterOf(options);
  if (observing.has(meter)) return;
  observing.add(meter);
  const sessions = meter.createObservableUpDownCounter("portcullis.mcp.sessions.active", {
    description: "2025 sessions this process holds.",
    unit: "{session}",
  });
  const streams = meter.createObservableUpDownCounter("portcullis.mcp.sse.connections.active", {
    description: "Open SSE connections: replies, GET streams and 2026-07-28 streams.",
    unit: "{connection}",
  });
  if (isNoop(sessions)) return;
  meter.addBatchObservableCallback(
    (result) => {
      const stats = transportStats();
      result.observe(sessions, stats.sessions);
      result.observe(streams, stats.sseConnections);
    },
    [sessions, streams],
  );
}
