// In-process cost of one tools/call per scenario: CPU time and bytes allocated per request,
// measured by calling each app's fetch handler in a loop (no sockets, no load generator), so
// the figures hold on a shared, noisy machine where wrk's cannot. See bench/README.md.
//
//   npm run bench:cpu
//   BENCH_CPU_REQUESTS=50000 BENCH_CPU_SCENARIOS=2025,2026 npm run bench:cpu
//   node --cpu-prof --import tsx bench/cpu.ts      # a profile of the same loop
//
// Allocated bytes come from V8's GC profiler: what each collection freed, plus the heap's
// growth over the loop. Rounds alternate the scenarios; the table shows each one's median.
import { GCProfiler, getHeapStatistics } from "node:v8";
import type { Hono } from "hono";
import { BENCH_CLIENT } from "./servers/_common.ts";
import { portcullisApp } from "./servers/portcullis-app.ts";
import { rawHonoApp } from "./servers/raw-hono-app.ts";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number >= 1, got ${raw}`);
  return value;
}

const config = {
  requests: envNumber("BENCH_CPU_REQUESTS", 5_000),
  warmup: envNumber("BENCH_CPU_WARMUP", 5_000),
  rounds: envNumber("BENCH_CPU_ROUNDS", 15),
  /** Requests in flight at once (wrk keeps 50; 1 gives the cleanest per-request figure). */
  concurrency: envNumber("BENCH_CPU_CONCURRENCY", 1),
  scenarios: (process.env.BENCH_CPU_SCENARIOS ?? "raw,raw2026,2025,2026,bearer")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
};

const ORIGIN = "http://127.0.0.1:8080";
const URL_MCP = `${ORIGIN}/mcp`;
const MODERN = "2026-07-28";

interface Scenario {
  id: string;
  label: string;
  fetch: (request: Request) => Response | Promise<Response>;
  headers: Record<string, string>;
  /** The request body, given its JSON-RPC id. */
  body: (id: number) => string;
}

/** The tools/call echo of wrk's script (bench/wrk/mcp.lua), in the 2025 or 2026-07-28 shape. */
function echoCall(
  protocol: string,
  authorization?: string,
): Omit<Scenario, "id" | "label" | "fetch"> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    "MCP-Protocol-Version": protocol,
  };
  if (authorization) headers.Authorization = authorization;
  let tail = '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}';
  if (protocol === MODERN) {
    headers["Mcp-Method"] = "tools/call";
    headers["Mcp-Name"] = "echo";
    tail =
      '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},' +
      `"_meta":{"io.modelcontextprotocol/protocolVersion":"${MODERN}",` +
      '"io.modelcontextprotocol/clientInfo":{"name":"portcullis-bench","version":"1.0.0"},' +
      '"io.modelcontextprotocol/clientCapabilities":{}}}}';
  }
  return { headers, body: (id) => `{"jsonrpc":"2.0","id":"c${id}${tail}` };
}

async function bearerToken(app: Hono): Promise<string> {
  const res = await app.fetch(
    new Request(`${ORIGIN}/token`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Basic ${btoa(`${BENCH_CLIENT.id}:${BENCH_CLIENT.secret}`)}`,
      },
      body: new URLSearchParams({ grant_type: "client_credentials", resource: URL_MCP }),
    }),
  );
  const text = await res.text();
  const token = res.ok ? (JSON.parse(text) as { access_token?: string }).access_token : undefined;
  if (!token) throw new Error(`token request failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  return token;
}

async function buildScenarios(): Promise<Scenario[]> {
  const all: Scenario[] = [];
  const wanted = (id: string) => config.scenarios.includes(id);
  /** Adds each wanted scenario of one app: [id, label, protocol] per scenario. */
  const addFor = (app: { fetch: Scenario["fetch"] }, each: [string, string, string][]) => {
    for (const [id, label, protocol] of each)
      if (wanted(id)) all.push({ id, label, fetch: app.fetch, ...echoCall(protocol) });
  };
  if (wanted("raw") || wanted("raw2026")) {
    // raw2026 is the floor with the 2026-07-28 bytes: what the bigger payload costs, no MCP.
    addFor(rawHonoApp(), [
      ["raw", "raw Hono", "2025-11-25"],
      ["raw2026", "raw Hono, 2026-07-28 bytes", MODERN],
    ]);
  }
  if (wanted("2025") || wanted("2026")) {
    addFor(portcullisApp({ stateful: false, json: true, builtIn: false }).app, [
      ["2025", "2025-11-25 stateless JSON", "2025-11-25"],
      ["2026", "2026-07-28 with _meta, JSON", MODERN],
    ]);
  }
  if (wanted("bearer")) {
    const { app } = portcullisApp({
      stateful: false,
      json: true,
      builtIn: true,
      // Without a socket the runtime cannot say who reaches the server: a loopback issuer
      // tells devLogin() it is local.
      issuer: ORIGIN,
    });
    const token = await bearerToken(app);
    all.push({
      id: "bearer",
      label: "2025-11-25 + ES256 bearer",
      fetch: app.fetch,
      ...echoCall("2025-11-25", `Bearer ${token}`),
    });
  }
  return all;
}

let nextId = 0;

/** One call, its reply read whole; refuses a reply that is not the echo (no fast errors). */
async function call(scenario: Scenario, check: boolean): Promise<void> {
  const body = scenario.body(nextId++);
  // wrk sends Content-Length: with it the server reads the body in one go, as it does there.
  const headers = { ...scenario.headers, "Content-Length": String(body.length) };
  const res = await scenario.fetch(new Request(URL_MCP, { method: "POST", headers, body }));
  const text = await res.text();
  if (
    check &&
    (res.status !== 200 || !text.includes('"text":"hello"') || text.includes('"error"'))
  ) {
    throw new Error(`${scenario.id}: unexpected reply HTTP ${res.status} ${text.slice(0, 300)}`);
  }
}

async function loop(scenario: Scenario, count: number): Promise<void> {
  await call(scenario, true);
  const lanes = Math.min(config.concurrency, count);
  const per = Math.floor(count / lanes);
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let i = 0; i < per; i++) await call(scenario, false);
    }),
  );
  await call(scenario, true);
}

interface Sample {
  cpuUs: number;
  wallUs: number;
  allocBytes: number;
  gcUs: number;
  gcs: number;
}

async function measure(scenario: Scenario): Promise<Sample> {
  const count = Math.floor(config.requests / config.concurrency) * config.concurrency + 2;
  const profiler = new GCProfiler();
  const heapBefore = getHeapStatistics().used_heap_size;
  profiler.start();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await loop(scenario, count - 2);
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const heapAfter = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let freed = 0;
  let gcUs = 0;
  for (const gc of statistics) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    gcUs += gc.cost;
  }
  return {
    cpuUs: (used.user + used.system) / count,
    wallUs: (wall * 1000) / count,
    allocBytes: (freed + heapAfter - heapBefore) / count,
    gcUs: gcUs / count,
    gcs: statistics.length,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const scenarios = await buildScenarios();
if (scenarios.length === 0)
  throw new Error("BENCH_CPU_SCENARIOS names none of raw, 2025, 2026, bearer");
for (const scenario of scenarios) await loop(scenario, config.warmup);

const samples = new Map<string, Sample[]>(scenarios.map((s) => [s.id, []]));
for (let round = 0; round < config.rounds; round++) {
  // Rotate the order so no scenario always runs right after another's garbage.
  for (let i = 0; i < scenarios.length; i++) {
    const scenario = scenarios[(i + round) % scenarios.length]!;
    samples.get(scenario.id)!.push(await measure(scenario));
  }
}

const rows = scenarios.map((scenario) => {
  const list = samples.get(scenario.id)!;
  const pick = (key: keyof Sample) => median(list.map((s) => s[key]));
  return {
    id: scenario.id,
    label: scenario.label,
    cpuUs: pick("cpuUs"),
    wallUs: pick("wallUs"),
    allocBytes: pick("allocBytes"),
    gcUs: pick("gcUs"),
    cpuMin: Math.min(...list.map((s) => s.cpuUs)),
  };
});

const pad = (text: string, width: number) => text.padEnd(width);
const num = (value: number, digits = 1) => value.toFixed(digits).padStart(9);
console.log(
  `node ${process.version}; ${config.rounds} rounds x ${config.requests} requests, ` +
    `concurrency ${config.concurrency}, warm-up ${config.warmup}; medians`,
);
console.log(`${pad("scenario", 30)}   CPU us  (min)     wall us   alloc B    GC us`);
for (const row of rows) {
  console.log(
    `${pad(row.label, 30)}${num(row.cpuUs)} ${`(${row.cpuMin.toFixed(1)})`.padStart(9)}` +
      `${num(row.wallUs)}${num(row.allocBytes, 0)}${num(row.gcUs, 2)}`,
  );
}

/**
 * The median over rounds of one scenario's figure divided by another's in the same round:
 * both ran seconds apart, so what else the machine did then weighs on both alike.
 */
function pairedRatio(a: string, b: string, key: keyof Sample): number | undefined {
  const left = samples.get(a);
  const right = samples.get(b);
  if (!left || !right) return undefined;
  return median(left.map((sample, round) => sample[key] / right[round]![key]));
}
const x = (value: number) => `${value.toFixed(2)}x`;
const targets: [string, string, string, string][] = [
  ["2026", "2025", "2026-07-28 / 2025", " (target: within 1.10x)"],
  ["raw2026", "raw", "raw Hono payloads ", " (2026-07-28 bytes / 2025 bytes)"],
  ["2025", "raw", "2025 / raw Hono   ", ""],
  ["bearer", "2025", "bearer / 2025    ", ""],
];
console.log("Per-round ratios (median over rounds):");
for (const [a, b, label, note] of targets) {
  const cpu = pairedRatio(a, b, "cpuUs");
  const alloc = pairedRatio(a, b, "allocBytes");
  if (cpu === undefined || alloc === undefined) continue;
  console.log(`  ${label}: CPU ${x(cpu)}, allocated ${x(alloc)}${note}`);
}

// What the 2026-07-28 era costs beyond its bigger payload: its extra over the 2025 path, less
// the extra the same bytes cost raw Hono; each round's own, then the median.
const byRound = (id: string) => samples.get(id);
const [modern, old, rawModern, raw] = ["2026", "2025", "raw2026", "raw"].map(byRound);
if (modern && old && rawModern && raw) {
  const extra = median(
    modern.map(
      (sample, round) =>
        sample.cpuUs - old[round]!.cpuUs - (rawModern[round]!.cpuUs - raw[round]!.cpuUs),
    ),
  );
  console.log(`2026-07-28 era CPU beyond its payload: ${extra.toFixed(2)} us per request`);
}
