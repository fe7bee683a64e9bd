/**
 * One trace through the gateway, with the real OpenTelemetry SDK: our client (instrumented)
 * calls a tool on the gateway (its server instrumented, and its upstream clients through
 * `upstreamClient`), which forwards it to a Portcullis server (instrumented) over HTTP. Every
 * span of the call shares the agent's trace id, and each hop's span is the child of the one
 * before: agent CLIENT → gateway SERVER → gateway handler → gateway CLIENT → upstream SERVER
 * → upstream handler.
 */
import { SpanKind, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, mcpApp } from "../../src/index.ts";
import { instrumentClient, instrumentServer } from "../../src/otel/index.ts";
import { signedIn, startGateway } from "../gateway/support.ts";
import { listen } from "../helpers/http.ts";
import { registerSdk } from "./support.ts";

const telemetry = registerSdk();
const tracer = trace.getTracer("test-agent");
let base: string;
/** The traceparent each upstream request carried in its `_meta`, by method. */
const carried: { method: string; meta: unknown }[] = [];

beforeAll(async () => {
  const upstream = new McpServer({ name: "upstream", version: "1.0.0" });
  upstream.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
  instrumentServer(upstream);
  upstream.use((ctx, next) => {
    carried.push({ method: ctx.method, meta: ctx.meta?.traceparent });
    return next();
  });
  const upstreamUrl = `${await listen(mcpApp(upstream))}/mcp`;
  const started = await startGateway({
    upstreams: [{ name: "up", url: upstreamUrl }],
    upstreamClient: (client) => instrumentClient(client),
  });
  instrumentServer(started.gw.server);
  base = started.base;
}, 60_000);

beforeEach(() => {
  telemetry.reset();
  carried.length = 0;
});

/** The span's parent span id, across SDK versions. */
function parentOf(span: ReadableSpan): string | undefined {
  const withContext = span as unknown as {
    parentSpanContext?: { spanId: string };
    parentSpanId?: string;
  };
  return withContext.parentSpanContext?.spanId ?? withContext.parentSpanId;
}

describe("one trace from the agent through the gateway to the upstream", () => {
  for (const protocolVersion of ["2026-07-28", "2025-11-25"]) {
    it(`links every hop of a forwarded tool call (${protocolVersion})`, async () => {
      const { client } = await signedIn(base, { protocolVersion });
      instrumentClient(client);
      telemetry.reset();
      const traceId = await tracer.startActiveSpan("agent task", async (root) => {
        const result = await client.callTool("up_echo", { text: "traced" });
        expect(JSON.stringify(result.content)).toContain("traced");
        root.end();
        return root.spanContext().traceId;
      });
      await telemetry.flush();
      const spans = telemetry.spans().filter((span) => span.spanContext().traceId === traceId);
      const find = (name: string, kind: SpanKind, parent: ReadableSpan) => {
        const found = spans.filter(
          (span) =>
            span.name === name &&
            span.kind === kind &&
            parentOf(span) === parent.spanContext().spanId,
        );
        expect(
          found,
          `${name} (${SpanKind[kind]}) under ${parent.name}: ${spans.map((s) => `${s.name}/${SpanKind[s.kind]}`).join(", ")}`,
        ).toHaveLength(1);
        return found[0]!;
      };
      const root = spans.find((span) => span.name === "agent task")!;
      const agent = find("tools/call up_echo", SpanKind.CLIENT, root);
      const gatewayServer = find("tools/call up_echo", SpanKind.SERVER, agent);
      const gatewayHandler = find("execute_tool up_echo", SpanKind.INTERNAL, gatewayServer);
      const gatewayClient = find("tools/call echo", SpanKind.CLIENT, gatewayHandler);
      const upstreamServer = find("tools/call echo", SpanKind.SERVER, gatewayClient);
      find("execute_tool echo", SpanKind.INTERNAL, upstreamServer);
      // Each hop's attributes name its own tool: the gateway's published one, the upstream's own.
      expect(gatewayServer.attributes["gen_ai.tool.name"]).toBe("up_echo");
      expect(gatewayClient.attributes["gen_ai.tool.name"]).toBe("echo");
      // The context reached the upstream in the request's _meta (SEP-414), naming the
      // gateway's client span. (The gateway hands our client a transport, not a URL, so the
      // traceparent header is not written; _meta carries it in both eras.)
      const call = carried.find((seen) => seen.method === "tools/call")!;
      const id = gatewayClient.spanContext().spanId;
      expect(call.meta).toEqual(expect.stringContaining(`${traceId}-${id}`));
    });
  }

  it("starts no trace upstream of its own: the gateway's span is the upstream's parent", async () => {
    const { client } = await signedIn(base);
    telemetry.reset();
    // No instrumented agent: the gateway's server span is the root of the trace.
    await client.callTool("up_echo", { text: "untraced agent" });
    await telemetry.flush();
    const upstreamServer = telemetry
      .spans()
      .find((span) => span.name === "tools/call echo" && span.kind === SpanKind.SERVER)!;
    const gatewayServer = telemetry
      .spans()
      .find((span) => span.name === "tools/call up_echo" && span.kind === SpanKind.SERVER)!;
    expect(parentOf(gatewayServer)).toBeUndefined();
    expect(upstreamServer.spanContext().traceId).toBe(gatewayServer.spanContext().traceId);
  });
});
