/**
 * Export over OTLP/HTTP (JSON) to a loopback receiver that decodes what arrives: the trace
 * from McpClient through the server, and the duration metrics, as a collector would see them.
 */
import { trace } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpClient } from "../../src/client/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { instrumentClient, instrumentServer } from "../../src/otel/index.ts";
import { listen } from "../helpers/http.ts";
import { registerSdk } from "./support.ts";

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
}

/** A collector stand-in: keeps the decoded JSON of every export request. */
const received = { traces: [] as unknown[], metrics: [] as unknown[], types: new Set<string>() };
const collector = new Hono();
collector.post("/v1/traces", async (c) => {
  received.types.add(c.req.header("content-type") ?? "");
  received.traces.push(await c.req.json());
  return c.json({});
});
collector.post("/v1/metrics", async (c) => {
  received.metrics.push(await c.req.json());
  return c.json({});
});
const endpoint = await listen(collector);

const telemetry = registerSdk({
  spans: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
  metrics: [
    new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
      exportIntervalMillis: 3_600_000,
    }),
  ],
});

function spansReceived(): OtlpSpan[] {
  const spans: OtlpSpan[] = [];
  for (const body of received.traces as {
    resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
  }[]) {
    for (const resource of body.resourceSpans)
      for (const scope of resource.scopeSpans) spans.push(...scope.spans);
  }
  return spans;
}

function attribute(span: OtlpSpan, key: string): string | number | undefined {
  const value = span.attributes.find((entry) => entry.key === key)?.value;
  return value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : undefined);
}

describe.each([
  { era: "2025 session", version: "2025-11-25", sessions: true },
  { era: "2026-07-28 stateless", version: "2026-07-28", sessions: false },
])("OTLP/HTTP export, $era era", ({ version, sessions }) => {
  it("delivers one trace from the client's span to the server's and the handler's", async () => {
    received.traces.length = 0;
    const mcp = new McpServer({ name: "exported", version: "1.0.0" });
    mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
    instrumentServer(mcp);
    const url = `${await listen(mcpApp(mcp, { sessions }))}/mcp`;
    const client = instrumentClient(
      new McpClient({ name: "agent", version: "1.0.0", protocolVersion: version }),
    );
    await client.connect(url);
    const agent = await trace.getTracer("agent").startActiveSpan("agent", async (span) => {
      await client.callTool("echo", { text: "over the wire" });
      span.end();
      return span.spanContext();
    });
    await client.close();
    await telemetry.flush();

    expect([...received.types][0]).toContain("application/json");
    const spans = spansReceived().filter((span) => span.traceId === agent.traceId);
    const clientSpan = spans.find((span) => span.name === "tools/call echo" && span.kind === 3)!;
    const serverSpan = spans.find((span) => span.name === "tools/call echo" && span.kind === 2)!;
    const handler = spans.find((span) => span.name === "execute_tool echo")!;
    expect(clientSpan.parentSpanId).toBe(agent.spanId);
    expect(serverSpan.parentSpanId).toBe(clientSpan.spanId);
    expect(handler.parentSpanId).toBe(serverSpan.spanId);
    expect(attribute(serverSpan, "mcp.method.name")).toBe("tools/call");
    expect(attribute(serverSpan, "gen_ai.tool.name")).toBe("echo");
    expect(attribute(serverSpan, "gen_ai.operation.name")).toBe("execute_tool");
    expect(attribute(serverSpan, "mcp.protocol.version")).toBe(version);
    expect(attribute(serverSpan, "jsonrpc.request.id")).toBe(
      attribute(clientSpan, "jsonrpc.request.id"),
    );
    expect(attribute(serverSpan, "network.transport")).toBe("tcp");
    expect(attribute(serverSpan, "client.address")).toBe("127.0.0.1");
    if (sessions) expect(attribute(serverSpan, "mcp.session.id")).toMatch(/^[0-9a-f]{32}$/);
    else expect(attribute(serverSpan, "mcp.session.id")).toBeUndefined();
    expect(attribute(clientSpan, "server.port")).toBe(Number(new URL(url).port));
  });
});

describe("OTLP/HTTP metrics", () => {
  it("delivers the operation-duration histograms in seconds", async () => {
    await telemetry.flush();
    const names = new Map<string, string>();
    for (const body of received.metrics as {
      resourceMetrics: { scopeMetrics: { metrics: { name: string; unit: string }[] }[] }[];
    }[]) {
      for (const resource of body.resourceMetrics)
        for (const scope of resource.scopeMetrics)
          for (const metric of scope.metrics) names.set(metric.name, metric.unit);
    }
    expect(names.get("mcp.server.operation.duration")).toBe("s");
    expect(names.get("mcp.client.operation.duration")).toBe("s");
  });
});
