/**
 * The real OpenTelemetry SDK, registered globally for one test file: spans kept in memory,
 * metrics read on demand, W3C trace context and an AsyncLocalStorage context manager.
 */
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/** A reader the test collects from when it wants, with no timer. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Telemetry {
  spans(): ReadableSpan[];
  /** Spans by name; fails when there is not exactly one. */
  span(name: string): ReadableSpan;
  metric(name: string): Promise<MetricData | undefined>;
  reset(): void;
  /** Waits for every span and metric exporter to send what it has. */
  flush(): Promise<void>;
}

export function registerSdk(
  extra: { spans?: SpanProcessor[]; metrics?: MetricReader[] } = {},
): Telemetry {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter), ...(extra.spans ?? [])],
  });
  const reader = new OnDemandReader();
  const meters = new MeterProvider({ readers: [reader, ...(extra.metrics ?? [])] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  metrics.setGlobalMeterProvider(meters);
  return {
    spans: () => exporter.getFinishedSpans(),
    span: (name) => {
      const found = exporter.getFinishedSpans().filter((span) => span.name === name);
      if (found.length !== 1) {
        const names = exporter.getFinishedSpans().map((span) => span.name);
        throw new Error(`${found.length} spans named "${name}"; spans: ${names.join(", ")}`);
      }
      return found[0]!;
    },
    metric: async (name) => {
      const { resourceMetrics } = await reader.collect();
      for (const scope of resourceMetrics.scopeMetrics) {
        const found = scope.metrics.find((metric) => metric.descriptor.name === name);
        if (found) return found;
      }
      return undefined;
    },
    reset: () => exporter.reset(),
    flush: async () => {
      await provider.forceFlush();
      await meters.forceFlush();
    },
  };
}

/** The data points of a metric whose attributes include `match`. */
export function pointsWith<T>(
  metric: MetricData | undefined,
  match: Record<string, unknown>,
): DataPoint<T>[] {
  const points = (metric?.dataPoints ?? []) as DataPoint<T>[];
  return points.filter((point) =>
    Object.entries(match).every(([key, value]) => point.attributes[key] === value),
  );
}

export type { Histogram };
