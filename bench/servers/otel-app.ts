// The OpenTelemetry layer's bench app: the stateless JSON echo server of portcullis.ts, with
// `instrumentServer` (layer "nosdk": no SDK registered, or "sdk": a recording SDK whose
// spans and metrics are kept in memory and dropped at export) or without it ("none").
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { z } from "zod";
import { McpServer, mcpApp } from "../../src/index.ts";
import { instrumentServer } from "../../src/otel/index.ts";

export type OtelLayer = "none" | "nosdk" | "sdk";

/** Spans are recorded, batched and handed over as a real exporter would get them; then dropped. */
class DroppingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

class IdleReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * A recording SDK. `global`: registered as an application would (providers, W3C propagator,
 * AsyncLocalStorage context); else only passed to the layer, the globals left untouched.
 */
export function recordingSdk(global: boolean) {
  const exporter = new DroppingExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  if (global) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
  }
  return { tracerProvider, meterProvider, exporter };
}

export function otelApp(layer: OtelLayer, options: { global?: boolean } = {}) {
  const mcp = new McpServer({ name: "bench", version: "1.0.0" });
  mcp.tool(
    "echo",
    { description: "Echo", input: z.object({ text: z.string() }), userRequired: false },
    ({ text }) => text,
  );
  if (layer === "nosdk") {
    // What "no SDK" means: nothing registered with the API's globals.
    if (metrics.getMeterProvider() instanceof MeterProvider)
      throw new Error("an SDK is registered");
    instrumentServer(mcp);
  }
  const sdk = layer === "sdk" ? recordingSdk(options.global ?? false) : undefined;
  if (sdk) instrumentServer(mcp, sdk);
  return { app: mcpApp(mcp, { path: "/mcp", jsonResponse: true }), sdk };
}
