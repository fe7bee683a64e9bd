/**
 * With no OpenTelemetry SDK registered the layer does nothing: no trace context is written
 * or read, requests are answered as without it. Tracing starts when an SDK is registered
 * later (the global tracer is a proxy); metrics need the SDK before instrumenting.
 */
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpClient } from "../../src/client/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { instrumentClient, instrumentServer } from "../../src/otel/index.ts";
import { listen } from "../helpers/http.ts";

describe("no SDK registered", () => {
  it("writes no trace context and answers as usual; an SDK registered later takes over", async () => {
    const seen: { meta: unknown; header: string | undefined }[] = [];
    const mcp = new McpServer({ name: "plain", version: "1.0.0" });
    mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
    instrumentServer(mcp);
    mcp.use((ctx, next) => {
      if (ctx.method === "tools/call") {
        seen.push({ meta: ctx.meta?.traceparent, header: ctx.http?.req.header("traceparent") });
      }
      return next();
    });
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = instrumentClient(new McpClient({ name: "agent", version: "1.0.0" }));
    await client.connect(url);
    const result = await client.callTool("echo", { text: "plain" });
    expect(result.content).toEqual([{ type: "text", text: "plain" }]);
    expect(seen).toEqual([{ meta: undefined, header: undefined }]);

    // Registered now: the same instrumented client and server trace from here on.
    const exporter = new InMemorySpanExporter();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    await client.callTool("echo", { text: "traced" });
    expect(seen[1]?.meta).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    let names = exporter.getFinishedSpans().map((span) => span.name);
    expect(names.filter((name) => name === "tools/call echo")).toHaveLength(2);
    // The handler span too, from the first request the SDK sees.
    expect(names.filter((name) => name === "execute_tool echo")).toHaveLength(1);
    await client.callTool("echo", { text: "traced again" });
    await client.close();
    names = exporter.getFinishedSpans().map((span) => span.name);
    expect(names.filter((name) => name === "tools/call echo")).toHaveLength(4);
    expect(names.filter((name) => name === "execute_tool echo")).toHaveLength(2);
  });
});
