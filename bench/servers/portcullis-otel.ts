// Portcullis, stateless JSON, with the OpenTelemetry layer: BENCH_OTEL=nosdk (instrumented,
// no SDK registered) or sdk (a recording SDK, spans batched and dropped at export).
import { startBenchServer } from "./_common.ts";
import { type OtelLayer, otelApp } from "./otel-app.ts";

const layer = (process.env.BENCH_OTEL ?? "nosdk") as OtelLayer;
if (layer !== "nosdk" && layer !== "sdk") throw new Error(`bad BENCH_OTEL ${layer}`);
startBenchServer(`portcullis-otel-${layer}`, otelApp(layer, { global: true }).app.fetch);
