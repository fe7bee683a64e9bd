// In-process cost of the OpenTelemetry layer (portcullis/otel) per tools/call: CPU time per
// request with no layer, with the layer and no SDK registered, and with a recording SDK,
// in both eras. Each app's fetch handler is called in a loop (no sockets, no load
// generator), so the figures hold on a shared, noisy machine where wrk's cannot. Two child
// processes: "nosdk" registers nothing with the OpenTelemetry API at all, "sdk" registers
// what an application would (W3C propagator, AsyncLocalStorage context). In each, many short
// rounds run the variants back to back; the overhead is the median of the per-round ratios,
// which a drifting machine load affects far less than the ratio of two medians.
//
//   npm run bench:otel
//   BENCH_OTEL_REQUESTS=2000 BENCH_OTEL_ROUNDS=40 npm run bench:otel
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
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
  requests: envNumber("BENCH_OTEL_REQUESTS", 1_000),
  warmup: envNumber("BENCH_OTEL_WARMUP", 3_000),
  rounds: envNumber("BENCH_OTEL_ROUNDS", 30),
  part: process.env.BENCH_OTEL_PART as "nosdk" | "sdk" | undefined,
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

interface Row {
  era: string;
  variant: string;
  "CPU µs/request": string;
  "vs no layer (median of rounds)": string;
}

/** One part in this process: no layer against `layer`, in both eras. */
async function part(layer: "nosdk" | "sdk"): Promise<Row[]> {
  if (layer === "sdk") {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  }
  const rows: Row[] = [];
  for (const era of ["2025-11-25", MODERN]) {
    const pair = (["none", layer] as const).map((variant) => {
      const { app } = otelApp(variant);
      return {
        id: `${era}/${variant}`,
        era,
        layer: variant,
        label: LAYERS.find((entry) => entry.layer === variant)!.label,
        fetch: app.fetch,
        call: echoCall(era),
        cpuUs: [] as number[],
      };
    });
    for (const scenario of pair) await run(scenario, config.warmup);
    const ratios: number[] = [];
    for (let round = 0; round < config.rounds; round++) {
      // Alternate which goes first, so neither always follows the other's garbage.
      const order = round % 2 ? [...pair].reverse() : pair;
      for (const scenario of order) {
        const before = process.cpuUsage();
        await run(scenario, config.requests);
        const used = process.cpuUsage(before);
        scenario.cpuUs.push((used.user + used.system) / config.requests);
      }
      ratios.push(pair[1]!.cpuUs[round]! / pair[0]!.cpuUs[round]!);
    }
    const overhead = (median(ratios) - 1) * 100;
    for (const scenario of pair) {
      rows.push({
        era,
        variant: scenario.label,
        "CPU µs/request": `${median(scenario.cpuUs).toFixed(1)} (min ${Math.min(...scenario.cpuUs).toFixed(1)})`,
        "vs no layer (median of rounds)":
          scenario.layer === "none" ? "" : `${overhead >= 0 ? "+" : ""}${overhead.toFixed(1)}%`,
      });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  if (config.part) {
    console.log(JSON.stringify(await part(config.part)));
    return;
  }
  console.log(
    `OpenTelemetry layer, in-process: ${config.rounds} rounds x ${config.requests} sequential tools/call per variant (warm-up ${config.warmup}), Node ${process.version}, load ${(await import("node:os")).loadavg()[0]!.toFixed(1)}`,
  );
  const rows: Row[] = [];
  for (const layer of ["nosdk", "sdk"] as const) {
    const out = execFileSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url)],
      {
        env: { ...process.env, BENCH_OTEL_PART: layer },
        encoding: "utf8",
        maxBuffer: 1 << 20,
      },
    );
    const last = out.trim().split("\n").at(-1)!;
    rows.push(...(JSON.parse(last) as Row[]));
  }
  console.table(rows);
  const noSdk = rows
    .filter((row) => row.variant === "layer, no SDK registered")
    .map((row) => Number.parseFloat(row["vs no layer (median of rounds)"]));
  console.log(
    `no SDK registered vs no layer: ${noSdk.map((v) => `${v.toFixed(1)}%`).join(", ")} (target within 3%)`,
  );
}

await main();
