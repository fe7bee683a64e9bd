// In-process cost of the OpenTelemetry layer (portcullis/otel) per tools/call: CPU time per
// request with no layer, with the layer and no SDK registered, and with a recording SDK,
// in both eras. Each app's fetch handler is called in a loop (no sockets, no load
// generator), so the figures hold on a shared, noisy machine where wrk's cannot; rounds
// alternate the variants and the table shows each one's median. See bench/README.md.
//
//   npm run bench:otel
//   BENCH_OTEL_REQUESTS=20000 BENCH_OTEL_ROUNDS=7 npm run bench:otel
import { context, propagation } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { type OtelLayer, otelApp } from "./servers/otel-app.ts";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number >= 1, got ${raw}`);
  return value;
}

const config = {
  requests: envNumber("BENCH_OTEL_REQUESTS", 10_000),
  warmup: envNumber("BENCH_OTEL_WARMUP", 3_000),
  rounds: envNumber("BENCH_OTEL_ROUNDS", 7),
};

const URL_MCP = "http://127.0.0.1:8080/mcp";
const MODERN = "2026-07-28";
const LAYERS: { layer: OtelLayer; label: string }[] = [
  { layer: "none", label: "no layer" },
  { layer: "nosdk", label: "layer, no SDK registered" },
  { layer: "sdk", label: "layer, recording SDK" },
];

/** The tools/call echo of bench/wrk/mcp.lua, in the 2025 or the 2026-07-28 shape. */
function echoCall(protocol: string): {
  headers: Record<string, string>;
  body: (id: number) => string;
} {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    "MCP-Protocol-Version": protocol,
  };
  let params = '{"name":"echo","arguments":{"text":"hello"}}';
  if (protocol === MODERN) {
    headers["Mcp-Method"] = "tools/call";
    headers["Mcp-Name"] = "echo";
    params =
      '{"name":"echo","arguments":{"text":"hello"},' +
      `"_meta":{"io.modelcontextprotocol/protocolVersion":"${MODERN}",` +
      '"io.modelcontextprotocol/clientInfo":{"name":"portcullis-bench","version":"1.0.0"},' +
      '"io.modelcontextprotocol/clientCapabilities":{}}}';
  }
  return {
    headers,
    body: (id) => `{"jsonrpc":"2.0","id":"c${id}","method":"tools/call","params":${params}}`,
  };
}

interface Scenario {
  id: string;
  era: string;
  layer: OtelLayer;
  label: string;
  fetch: (request: Request) => Response | Promise<Response>;
  call: ReturnType<typeof echoCall>;
  cpuUs: number[];
}

let nextId = 0;
async function run(scenario: Scenario, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await scenario.fetch(
      new Request(URL_MCP, {
        method: "POST",
        headers: scenario.call.headers,
        body: scenario.call.body(++nextId),
      }),
    );
    const text = await response.text();
    if (response.status !== 200 || !text.includes('"hello"'))
      throw new Error(`${scenario.id}: HTTP ${response.status} ${text.slice(0, 200)}`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  // What an application with an SDK registers besides the providers; the recording variant
  // gets its providers directly, so the "no SDK" variant sees none.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  const scenarios: Scenario[] = [];
  const exporters: { exported: number }[] = [];
  for (const era of ["2025-11-25", MODERN]) {
    for (const { layer, label } of LAYERS) {
      const { app, sdk } = otelApp(layer);
      if (sdk) exporters.push(sdk.exporter);
      scenarios.push({
        id: `${era}/${layer}`,
        era,
        layer,
        label,
        fetch: app.fetch,
        call: echoCall(era),
        cpuUs: [],
      });
    }
  }
  console.log(
    `OpenTelemetry layer, in-process: ${config.rounds} rounds x ${config.requests} sequential tools/call per variant (warm-up ${config.warmup}), Node ${process.version}`,
  );
  for (const scenario of scenarios) await run(scenario, config.warmup);
  for (let round = 0; round < config.rounds; round++) {
    // Alternate the order so drift in the machine's load spreads over every variant.
    const order = round % 2 ? [...scenarios].reverse() : scenarios;
    for (const scenario of order) {
      const before = process.cpuUsage();
      await run(scenario, config.requests);
      const used = process.cpuUsage(before);
      scenario.cpuUs.push((used.user + used.system) / config.requests);
    }
  }
  const spans = exporters.reduce((sum, exporter) => sum + exporter.exported, 0);
  const rows = scenarios.map((scenario) => {
    const base = scenarios.find((s) => s.era === scenario.era && s.layer === "none")!;
    const us = median(scenario.cpuUs);
    const overhead = (us / median(base.cpuUs) - 1) * 100;
    return {
      era: scenario.era,
      variant: scenario.label,
      "CPU µs/request (median)": us.toFixed(1),
      "min..max": `${Math.min(...scenario.cpuUs).toFixed(1)}..${Math.max(...scenario.cpuUs).toFixed(1)}`,
      "vs no layer":
        scenario.layer === "none" ? "" : `${overhead >= 0 ? "+" : ""}${overhead.toFixed(1)}%`,
    };
  });
  console.table(rows);
  console.log(`spans exported by the recording SDK (batched, then dropped): ${spans}`);
  const worst = Math.max(
    ...rows
      .filter((_, i) => scenarios[i]!.layer === "nosdk")
      .map((row) => Number.parseFloat(row["vs no layer"])),
  );
  console.log(`no SDK registered vs no layer: worst ${worst.toFixed(1)}% (target within 3%)`);
}

await main();
