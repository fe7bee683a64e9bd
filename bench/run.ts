// Throughput / memory benchmark runner. See bench/README.md.
//
//   npm run bench
//   BENCH_DURATION=5 BENCH_PHASES=throughput BENCH_SERVERS=raw,sdk npm run bench
//
// Load generator (wrk, and this process for session creation) runs on BENCH_CLIENT_CPU,
// every server runs in its own child node process on BENCH_SERVER_CPU.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_CLIENT, treeCpuSeconds } from "./servers/_common.ts";

// ---------------------------------------------------------------------------------------
// Configuration

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = resolve(benchDir, "..");

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number, got ${raw}`);
  return value;
}
function envList(name: string, fallback: string[]): string[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

const config = {
  /** Seconds of each measured throughput run; BENCH_ROUNDS runs per scenario, interleaved. */
  duration: envNumber("BENCH_DURATION", 5),
  rounds: Math.max(1, envNumber("BENCH_ROUNDS", 3)),
  warmup: envNumber("BENCH_WARMUP", 3),
  connections: envNumber("BENCH_CONNECTIONS", 50),
  sessions: envNumber("BENCH_SESSIONS", 10_000),
  sessionWarmup: envNumber("BENCH_SESSION_WARMUP", 100),
  retentionRequests: envNumber("BENCH_RETENTION_REQUESTS", 100_000),
  retentionWarmup: envNumber("BENCH_RETENTION_WARMUP", 5_000),
  clientCpu: process.env.BENCH_CLIENT_CPU ?? "0",
  serverCpu: process.env.BENCH_SERVER_CPU ?? "1",
  phases: envList("BENCH_PHASES", ["throughput", "gateway", "sessions", "retention"]),
  servers: envList("BENCH_SERVERS", ["raw", "sdk", "portcullis", "gateway"]),
  /** Throughput scenarios (ids); default: all but the stateful SSE extras. */
  scenarios: envList("BENCH_SCENARIOS", []),
  /** Stateful scenarios for the idle-session and retention runs. */
  memoryTargets: envList("BENCH_MEMORY_TARGETS", ["portcullis-stateful-json", "sdk-stateful-json"]),
  out: resolve(rootDir, process.env.BENCH_OUT ?? "bench/results/latest.json"),
  /** The gateway phase: calls per target, rounds, warm-up calls, calls in flight. */
  gatewayCalls: envNumber("BENCH_GATEWAY_CALLS", 1500),
  gatewayRounds: envNumber("BENCH_GATEWAY_ROUNDS", 10),
  gatewayWarmup: envNumber("BENCH_GATEWAY_WARMUP", 300),
  gatewayConcurrency: envNumber("BENCH_GATEWAY_CONCURRENCY", 1),
};

const PROTOCOL_VERSION = "2025-11-25";
const MODERN_VERSION = "2026-07-28";
const MCP_PATH = "/mcp";
const luaScript = join(benchDir, "wrk", "mcp.lua");

// ---------------------------------------------------------------------------------------
// Scenarios

type Family = "raw" | "sdk" | "portcullis" | "gateway";
interface Scenario {
  id: string;
  family: Family;
  label: string;
  file: string;
  env: Record<string, string>;
  stateful: boolean;
  /** SDK scenario this one is compared against ("vs SDK" columns). */
  sdkPeer?: string;
  /** Left out of the throughput table unless named in BENCH_SCENARIOS. */
  extra?: boolean;
  /** Protocol revision of the measured tools/call. Default 2025-11-25. */
  protocol?: string;
  /** Sends a bearer token from the server's built-in authorization server. */
  bearer?: boolean;
  /** Portcullis scenario this one is compared against in the targets summary. */
  baseline?: string;
  /** Sends the bearer token the server printed at startup (`TOKEN <jwt>`). */
  serverToken?: boolean;
}

const mode = (stateful: boolean, json: boolean) => ({
  BENCH_MODE: stateful ? "stateful" : "stateless",
  BENCH_RESPONSE: json ? "json" : "sse",
});

const scenarios: Scenario[] = [
  {
    id: "raw-hono",
    family: "raw",
    label: "raw Hono, fixed JSON-RPC result",
    file: "raw-hono.ts",
    env: {},
    stateful: false,
  },
  {
    id: "raw-hono-2026",
    family: "raw",
    label: "raw Hono, 2026-07-28 request and result bytes",
    file: "raw-hono.ts",
    env: {},
    stateful: false,
    protocol: MODERN_VERSION,
    baseline: "raw-hono",
  },
  {
    id: "sdk-stateless-json",
    family: "sdk",
    label: "SDK WebStandard, stateless, JSON",
    file: "sdk.ts",
    env: mode(false, true),
    stateful: false,
  },
  {
    id: "sdk-stateless-sse",
    family: "sdk",
    label: "SDK WebStandard, stateless, SSE",
    file: "sdk.ts",
    env: mode(false, false),
    stateful: false,
  },
  {
    id: "sdk-stateful-json",
    family: "sdk",
    label: "SDK WebStandard, stateful, JSON",
    file: "sdk.ts",
    env: mode(true, true),
    stateful: true,
  },
  {
    id: "portcullis-stateless-json",
    family: "portcullis",
    label: "Portcullis, stateless, JSON",
    file: "portcullis.ts",
    env: mode(false, true),
    stateful: false,
    sdkPeer: "sdk-stateless-json",
  },
  {
    id: "portcullis-2026-json",
    family: "portcullis",
    label: "Portcullis, 2026-07-28 (per-request _meta), JSON",
    file: "portcullis.ts",
    env: mode(false, true),
    stateful: false,
    protocol: MODERN_VERSION,
    baseline: "portcullis-stateless-json",
  },
  {
    id: "portcullis-bearer-json",
    family: "portcullis",
    label: "Portcullis, stateless, JSON, ES256 bearer from the built-in AS",
    file: "portcullis.ts",
    env: { ...mode(false, true), BENCH_AUTH: "builtin" },
    stateful: false,
    bearer: true,
    sdkPeer: "sdk-stateless-json",
    baseline: "portcullis-stateless-json",
  },
  {
    id: "portcullis-stateless-sse",
    family: "portcullis",
    label: "Portcullis, stateless, SSE",
    file: "portcullis.ts",
    env: mode(false, false),
    stateful: false,
    sdkPeer: "sdk-stateless-sse",
  },
  {
    id: "portcullis-stateful-json",
    family: "portcullis",
    label: "Portcullis, stateful, JSON",
    file: "portcullis.ts",
    env: mode(true, true),
    stateful: true,
    sdkPeer: "sdk-stateful-json",
  },
  {
    id: "portcullis-otel-nosdk-json",
    family: "portcullis",
    label: "Portcullis, stateless, JSON, OpenTelemetry layer, no SDK registered",
    file: "portcullis-otel.ts",
    env: { ...mode(false, true), BENCH_OTEL: "nosdk" },
    stateful: false,
    baseline: "portcullis-stateless-json",
  },
  {
    id: "portcullis-otel-sdk-json",
    family: "portcullis",
    label: "Portcullis, stateless, JSON, OpenTelemetry layer, recording SDK",
    file: "portcullis-otel.ts",
    env: { ...mode(false, true), BENCH_OTEL: "sdk" },
    stateful: false,
    baseline: "portcullis-stateless-json",
  },
  // The gateway (bench/servers/gateway.ts) in front of our McpServer, compared with a direct
  // 2026-07-28 call to that server (portcullis-2026-json). Gateway and upstream share CPU 1.
  {
    id: "gateway-http-2026",
    family: "gateway",
    label: "gateway, ES256 bearer, HTTP upstream (Portcullis stateless JSON), 2026-07-28",
    file: "gateway.ts",
    env: { BENCH_UPSTREAM: "http" },
    stateful: false,
    protocol: MODERN_VERSION,
    serverToken: true,
    baseline: "portcullis-2026-json",
  },
  {
    id: "gateway-stdio-2026",
    family: "gateway",
    label: "gateway, ES256 bearer, stdio upstream (our McpServer), 2026-07-28",
    file: "gateway.ts",
    env: { BENCH_UPSTREAM: "stdio" },
    stateful: false,
    protocol: MODERN_VERSION,
    serverToken: true,
    baseline: "portcullis-2026-json",
  },
  // Extras (BENCH_SCENARIOS / BENCH_MEMORY_TARGETS): stateful sessions answering over SSE.
  {
    id: "sdk-stateful-sse",
    family: "sdk",
    label: "SDK WebStandard, stateful, SSE",
    file: "sdk.ts",
    env: mode(true, false),
    stateful: true,
    extra: true,
  },
  {
    id: "portcullis-stateful-sse",
    family: "portcullis",
    label: "Portcullis, stateful, SSE",
    file: "portcullis.ts",
    env: mode(true, false),
    stateful: true,
    sdkPeer: "sdk-stateful-sse",
    extra: true,
  },
];

const byId = (id: string): Scenario => {
  const s = scenarios.find((x) => x.id === id);
  if (!s) throw new Error(`unknown scenario ${id}`);
  return s;
};
const enabled = (s: Scenario) => config.servers.includes(s.family) || config.servers.includes(s.id);
const throughputScenarios = () =>
  config.scenarios.length > 0
    ? config.scenarios.map(byId)
    : scenarios.filter((s) => !s.extra && enabled(s));
const memoryScenarios = () =>
  config.memoryTargets.map(byId).filter((s) => {
    if (!s.stateful) throw new Error(`BENCH_MEMORY_TARGETS: ${s.id} is not stateful`);
    return enabled(s);
  });

// ---------------------------------------------------------------------------------------
// Utilities

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function haveCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const useTaskset = haveCommand("taskset") && cpus().length >= 2;

/** argv prefixed with `taskset -c <cpu>` when pinning is possible (taskset execs, so the
 * child's PID is the PID of the pinned program itself). */
function pinned(cpu: string, argv: string[]): [string, string[]] {
  if (!useTaskset) return [argv[0]!, argv.slice(1)];
  return ["taskset", ["-c", cpu, ...argv]];
}

function pinSelf(): void {
  if (!useTaskset) {
    log("taskset unavailable or single CPU: running unpinned");
    return;
  }
  execFileSync("taskset", ["-a", "-p", "-c", config.clientCpu, String(process.pid)], {
    stdio: "ignore",
  });
}

function readProcStatus(pid: number): { rssMB: number; hwmMB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    return { rssMB: kb("VmRSS") / 1024, hwmMB: kb("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * Function-call interrupts (the `CAL` line of /proc/interrupts) taken so far by one CPU: on a
 * virtual machine, mostly wake-ups of that CPU while idle. Undefined off Linux.
 */
function wakeInterrupts(cpu: string): number | undefined {
  try {
    const lines = readFileSync("/proc/interrupts", "utf8").split("\n");
    const column = lines[0]?.trim().split(/\s+/).indexOf(`CPU${cpu}`) ?? -1;
    const counts = lines.find((line) => line.trimStart().startsWith("CAL:"));
    const value = Number(counts?.trim().split(/\s+/)[column + 1]);
    return column >= 0 && Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** How much a counter grew between two readings; undefined when either is missing. */
const growth = (before: number | undefined, after: number | undefined) =>
  before === undefined || after === undefined ? undefined : after - before;

const mb = (bytes: number) => bytes / (1024 * 1024);

// ---------------------------------------------------------------------------------------
// Server processes

interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  gcAvailable: boolean;
}

interface RunningServer {
  scenario: Scenario;
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** The bearer token the server printed, if any. */
  token: string | undefined;
  stderr: string[];
  memory(): Promise<MemoryUsage>;
  stop(): Promise<void>;
}

/**
 * The servers run as tsc's output (tsconfig.bench.json), as the package ships: under tsx,
 * esbuild's name-keeping helpers on every closure would be measured as ours.
 */
let compiled: Promise<void> | undefined;
function compileServers(): Promise<void> {
  compiled ??= new Promise((resolveBuild, reject) => {
    const tsc = spawn(
      process.execPath,
      [join(rootDir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.bench.json", "--noCheck"],
      { cwd: rootDir, stdio: "inherit" },
    );
    tsc.on("exit", (code) =>
      code === 0 ? resolveBuild() : reject(new Error(`tsc -p tsconfig.bench.json exited ${code}`)),
    );
  });
  return compiled;
}

async function startServer(
  scenario: Scenario,
  extraEnv: Record<string, string> = {},
): Promise<RunningServer> {
  await compileServers();
  const script = join(benchDir, ".build/bench/servers", scenario.file.replace(/\.ts$/, ".js"));
  const [cmd, args] = pinned(config.serverCpu, [process.execPath, "--expose-gc", script]);
  const child = spawn(cmd, args, {
    cwd: rootDir,
    env: { ...process.env, ...scenario.env, ...extraEnv, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const stderr: string[] = [];
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 50) stderr.shift();
  });

  let token: string | undefined;
  const port = await new Promise<number>((resolvePort, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${scenario.id}: no ready line within 30s\n${stderr.join("")}`));
    }, 30_000);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${scenario.id}: server exited before ready (code ${code}, signal ${signal})\n${stderr.join("").trim()}`,
        ),
      );
    };
    child.once("exit", onExit);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      const m = /^READY \S+ port=(\d+)/m.exec(buffered);
      if (m) {
        token = /^TOKEN (\S+)/m.exec(buffered)?.[1];
        clearTimeout(timer);
        child.off("exit", onExit);
        child.stdout?.removeAllListeners("data");
        child.stdout?.resume();
        resolvePort(Number(m[1]));
      }
    });
  });

  let nextProbe = 0;
  const memory = () =>
    new Promise<MemoryUsage>((resolveMem, reject) => {
      const id = ++nextProbe;
      const timer = setTimeout(() => reject(new Error("memory probe timed out")), 30_000);
      const onMessage = (raw: unknown) => {
        const msg = raw as { type?: string; id?: number } & MemoryUsage;
        if (msg.type !== "memory" || msg.id !== id) return;
        clearTimeout(timer);
        child.off("message", onMessage);
        resolveMem(msg);
      };
      child.on("message", onMessage);
      child.send({ type: "memory", id, gc: true });
    });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM"); // child.pid is the node process itself (taskset execs)
    const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
  };

  if (child.pid === undefined) throw new Error(`${scenario.id}: spawn failed`);
  return {
    scenario,
    child,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}${MCP_PATH}`,
    token,
    stderr,
    memory,
    stop,
  };
}

// ---------------------------------------------------------------------------------------
// MCP client helpers (setup, probes, session creation) — run in this process.

const baseHeaders = {
  "Content-Type": "application/json",
  Accept: "application/json, text/event-stream",
  "MCP-Protocol-Version": PROTOCOL_VERSION,
};

interface RpcReply {
  status: number;
  sessionId: string | null;
  message: { id?: unknown; result?: unknown; error?: unknown } | undefined;
  raw: string;
}

async function rpc(
  url: string,
  body: unknown,
  sessionId?: string,
  extraHeaders: Record<string, string> = {},
): Promise<RpcReply> {
  const headers: Record<string, string> = { ...baseHeaders, ...extraHeaders };
  if (sessionId) headers["Mcp-Session-Id"] = sessionId;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(url, { method: "POST", headers, body: text });
  const raw = await res.text();
  let message: RpcReply["message"];
  const type = res.headers.get("content-type") ?? "";
  try {
    if (type.includes("text/event-stream")) {
      const id = (JSON.parse(text) as { id?: unknown }).id;
      for (const event of raw.split(/\r?\n\r?\n/)) {
        const data = event
          .split(/\r?\n/)
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart())
          .join("\n");
        if (!data) continue;
        const parsed = JSON.parse(data) as NonNullable<RpcReply["message"]>;
        if (parsed.id === id) message = parsed;
      }
    } else if (raw) {
      message = JSON.parse(raw) as RpcReply["message"];
    }
  } catch {
    message = undefined;
  }
  return { status: res.status, sessionId: res.headers.get("mcp-session-id"), message, raw };
}

/** How a scenario's tools/call is sent: its revision and, for protected ones, the token. */
interface CallShape {
  protocol: string;
  authorization?: string;
}

const LEGACY_CALL: CallShape = { protocol: PROTOCOL_VERSION };

/** The body and extra headers of one tools/call echo in a scenario's shape. */
function echoCall(id: string, shape: CallShape): { body: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { "MCP-Protocol-Version": shape.protocol };
  if (shape.authorization) headers.Authorization = shape.authorization;
  const params: Record<string, unknown> = { name: "echo", arguments: { text: "hello" } };
  if (shape.protocol === MODERN_VERSION) {
    headers["Mcp-Method"] = "tools/call";
    headers["Mcp-Name"] = "echo";
    params._meta = {
      "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
      "io.modelcontextprotocol/clientInfo": { name: "portcullis-bench", version: "1.0.0" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
  }
  return { body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params }), headers };
}

/** A client_credentials token from the server's built-in authorization server. */
async function bearerToken(url: string): Promise<string> {
  const endpoint = new URL("/token", url);
  const res = await fetch(endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${btoa(`${BENCH_CLIENT.id}:${BENCH_CLIENT.secret}`)}`,
    },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: url }),
  });
  const text = await res.text();
  const token = res.ok ? (JSON.parse(text) as { access_token?: string }).access_token : undefined;
  if (!token) throw new Error(`token request failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  return token;
}

const initializeBody = (id: number | string) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: {
    protocolVersion: PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: "portcullis-bench", version: "1.0.0" },
  },
});

/** initialize + notifications/initialized; returns the session id. */
async function openSession(url: string, id: number | string = 0): Promise<string> {
  const init = await rpc(url, initializeBody(id));
  if (init.status !== 200 || !init.sessionId || !init.message?.result) {
    throw new Error(`initialize failed: HTTP ${init.status} ${init.raw.slice(0, 300)}`);
  }
  const note = await rpc(
    url,
    { jsonrpc: "2.0", method: "notifications/initialized" },
    init.sessionId,
  );
  if (note.status !== 202 && note.status !== 200) {
    throw new Error(
      `notifications/initialized failed: HTTP ${note.status} ${note.raw.slice(0, 300)}`,
    );
  }
  return init.sessionId;
}

/** One tools/call echo; true when the reply carries the echoed text. */
async function probeEcho(
  url: string,
  sessionId?: string,
  shape: CallShape = LEGACY_CALL,
): Promise<{ ok: boolean; detail: string }> {
  const call = echoCall("probe", shape);
  const reply = await rpc(url, call.body, sessionId, call.headers);
  const result = reply.message?.result as
    | { content?: { type: string; text: string }[] }
    | undefined;
  const ok =
    reply.status === 200 &&
    reply.message?.id === "probe" &&
    result?.content?.[0]?.type === "text" &&
    result.content[0].text === "hello";
  return { ok, detail: `HTTP ${reply.status} ${reply.raw.slice(0, 300)}` };
}

async function pool<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>) {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------
// wrk

interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  latencyMs: { avg: number; max: number; p50: number; p75: number; p90: number; p99: number };
  errors: { connect: number; read: number; write: number; timeout: number; non2xx: number };
  raw: string;
}

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const toMs = (value: string, unit: string) => Number(value) * (unitMs[unit] ?? Number.NaN);

function parseWrk(raw: string): WrkResult {
  const need = (re: RegExp, what: string) => {
    const m = re.exec(raw);
    if (!m) throw new Error(`could not parse wrk ${what}:\n${raw}`);
    return m;
  };
  const done = need(/(\d+) requests in ([\d.]+)(us|ms|s|m),/, "request count");
  const rps = need(/Requests\/sec:\s+([\d.]+)/, "Requests/sec");
  const lat = need(/Latency\s+([\d.]+)(us|ms|s|m)\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/, "latency");
  const pct = (p: number) => {
    const m = need(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, "m"), `p${p}`);
    return toMs(m[1]!, m[2]!);
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(raw);
  return {
    requests: Number(done[1]),
    durationS: toMs(done[2]!, done[3]!) / 1000,
    rps: Number(rps[1]),
    latencyMs: {
      avg: toMs(lat[1]!, lat[2]!),
      max: toMs(lat[3]!, lat[4]!),
      p50: pct(50),
      p75: pct(75),
      p90: pct(90),
      p99: pct(99),
    },
    errors: {
      connect: Number(sock?.[1] ?? 0),
      read: Number(sock?.[2] ?? 0),
      write: Number(sock?.[3] ?? 0),
      timeout: Number(sock?.[4] ?? 0),
      non2xx: Number(non2xx?.[1] ?? 0),
    },
    raw,
  };
}

interface WrkOptions {
  url: string;
  durationS: number;
  sessionId?: string | undefined;
  idPrefix: string;
  shape: CallShape;
}

function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const [cmd, args] = pinned(config.clientCpu, [
    "wrk",
    "-t1",
    `-c${config.connections}`,
    `-d${Math.max(1, Math.round(opts.durationS))}s`,
    "--timeout",
    "10s",
    "--latency",
    "-s",
    luaScript,
    opts.url,
  ]);
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, {
      env: {
        ...process.env,
        BENCH_SESSION_ID: opts.sessionId ?? "",
        BENCH_ID_PREFIX: opts.idPrefix,
        BENCH_PROTOCOL: opts.shape.protocol,
        BENCH_AUTHORIZATION: opts.shape.authorization ?? "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      err += c;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${err}${out}`));
      try {
        resolveRun(parseWrk(out));
      } catch (e) {
        reject(e);
      }
    });
  });
}

const wrkErrors = (r: WrkResult) =>
  r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout + r.errors.non2xx;

/**
 * Sets up a server for load: stateful => a session, protected => a token; then checks one
 * echo round-trip.
 */
async function prepare(
  server: RunningServer,
): Promise<{ sessionId: string | undefined; shape: CallShape }> {
  const { scenario } = server;
  const shape: CallShape = { protocol: scenario.protocol ?? PROTOCOL_VERSION };
  if (scenario.bearer) shape.authorization = `Bearer ${await bearerToken(server.url)}`;
  if (scenario.serverToken) {
    if (!server.token) throw new Error(`${scenario.id}: the server printed no TOKEN line`);
    shape.authorization = `Bearer ${server.token}`;
  }
  const sessionId = scenario.stateful ? await openSession(server.url) : undefined;
  const probe = await probeEcho(server.url, sessionId, shape);
  if (!probe.ok) throw new Error(`${scenario.id}: echo probe failed: ${probe.detail}`);
  return { sessionId, shape };
}

// ---------------------------------------------------------------------------------------
// Phase 1: throughput

interface ThroughputRow {
  id: string;
  label: string;
  error?: string;
  /** Rounds measured; every figure below is the median over them. */
  rounds?: number;
  rps?: number;
  /** req/s of each round, in order. */
  roundRps?: number[];
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  avgMs?: number;
  maxMs?: number;
  requests?: number;
  errors?: WrkResult["errors"];
  /** Server process CPU time (user+sys) per request, microseconds. */
  serverCpuUsPerRequest?: number;
  /**
   * Function-call interrupts on wrk's CPU per request: its wake-ups from idle, each paid for
   * by the server that woke it (see bench/README.md).
   */
  clientWakeupsPerRequest?: number;
  /** Server CPU time / wall time during the run (1.0 = its core was saturated). */
  serverCpuBusy?: number;
  rssAfterMB?: number;
  rssPeakMB?: number;
  vsRaw?: { rps: number; p99: number };
  vsSdk?: { peer: string; rps: number; p99: number };
  /** Against another Portcullis scenario (2026-07-28 vs 2025, bearer vs none). Ratios: the median of the rounds' own. */
  vsBaseline?: { peer: string; rps: number; p99: number };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The median of the values that exist. */
const medianOf = (values: (number | undefined)[]): number | undefined => {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length ? median(present) : undefined;
};

/** One measured wrk run of a scenario: one round. */
interface ThroughputSample {
  result: WrkResult;
  /** Server CPU seconds (the whole process tree) over the run. */
  cpuSeconds: number | undefined;
  /** Function-call interrupts wrk's CPU took over the run (its wake-ups). */
  wakeups: number | undefined;
}

/**
 * The scenarios run one after another, round after round (forwards, then backwards), each
 * run on a server process of its own. A row's figures are the medians over its rounds, and
 * a ratio between two rows is the median of the ratios of each round. On a shared virtual
 * machine the cost of a request moves between runs, mostly in the kernel (waking the load
 * generator's core): runs seconds apart share the machine's state, and fresh processes
 * sample what one process would not.
 */
async function throughputPhase(): Promise<ThroughputRow[]> {
  const scenarios = throughputScenarios();
  const samplesOf = new Map<string, ThroughputSample[]>(scenarios.map((s) => [s.id, []]));
  const rssOf = new Map<string, { rssMB: number; hwmMB: number }>();
  const failed = new Map<string, string>();
  for (let round = 1; round <= config.rounds; round++) {
    // Even rounds run the list backwards: no scenario always follows the same neighbour, and
    // the two sides of a target (listed next to each other) take turns going first.
    for (const scenario of round % 2 === 0 ? scenarios.toReversed() : scenarios) {
      if (failed.has(scenario.id)) continue;
      log(`throughput: ${scenario.id}, round ${round} of ${config.rounds}`);
      let server: RunningServer | undefined;
      try {
        server = await startServer(scenario);
        const { sessionId, shape } = await prepare(server);
        const url = server.url;
        const load = (durationS: number, idPrefix: string) =>
          runWrk({ url, durationS, sessionId, idPrefix, shape });
        if (config.warmup > 0) await load(config.warmup, "w");
        // The whole tree: a gateway server counts with the upstream it started.
        const cpuBefore = treeCpuSeconds(server.pid);
        const wakeBefore = wakeInterrupts(config.clientCpu);
        const result = await load(config.duration, "m");
        const cpuAfter = treeCpuSeconds(server.pid);
        const wakeAfter = wakeInterrupts(config.clientCpu);
        const proc = readProcStatus(server.pid);
        if (proc) rssOf.set(scenario.id, proc);
        const after = await probeEcho(server.url, sessionId, shape);
        if (!after.ok) throw new Error(`echo probe after load failed: ${after.detail}`);
        samplesOf.get(scenario.id)?.push({
          result,
          cpuSeconds: growth(cpuBefore, cpuAfter),
          wakeups: growth(wakeBefore, wakeAfter),
        });
        log(
          `  ${result.rps.toFixed(0)} req/s, p50 ${result.latencyMs.p50}ms, p99 ${result.latencyMs.p99}ms, errors ${wrkErrors(result)}`,
        );
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        log(`  FAILED: ${error.split("\n").slice(0, 6).join("\n  ")}`);
        failed.set(scenario.id, error);
      } finally {
        await server?.stop();
      }
    }
  }
  const rows = scenarios.map((scenario): ThroughputRow => {
    const error = failed.get(scenario.id);
    if (error !== undefined) return { id: scenario.id, label: scenario.label, error };
    return throughputRow(scenario, samplesOf.get(scenario.id) ?? [], rssOf.get(scenario.id));
  });

  /** The median over rounds of one row's figure against another's, in the same round. */
  const versus = (id: string, peerId: string) => {
    const mine = samplesOf.get(id) ?? [];
    const theirs = samplesOf.get(peerId) ?? [];
    if (failed.has(id) || failed.has(peerId) || theirs.length === 0) return undefined;
    const ratios = (figure: (r: WrkResult) => number) =>
      median(mine.map((sample, i) => figure(sample.result) / figure(theirs[i]!.result)));
    return { rps: ratios((r) => r.rps), p99: ratios((r) => r.latencyMs.p99) };
  };
  for (const row of rows) {
    if (row.rps === undefined) continue;
    const scenario = byId(row.id);
    const raw = versus(row.id, "raw-hono");
    if (raw) row.vsRaw = raw;
    const sdk = scenario.sdkPeer && versus(row.id, scenario.sdkPeer);
    if (scenario.sdkPeer && sdk) row.vsSdk = { peer: scenario.sdkPeer, ...sdk };
    const base = scenario.baseline && versus(row.id, scenario.baseline);
    if (scenario.baseline && base) row.vsBaseline = { peer: scenario.baseline, ...base };
  }
  return rows;
}

/** A scenario's row: each figure the median over its rounds. */
function throughputRow(
  scenario: Scenario,
  samples: ThroughputSample[],
  proc: { rssMB: number; hwmMB: number } | undefined,
): ThroughputRow {
  const of = (figure: (r: WrkResult) => number) => median(samples.map((s) => figure(s.result)));
  const sum = (key: keyof WrkResult["errors"]) =>
    samples.reduce((total, s) => total + s.result.errors[key], 0);
  const cpuUs = medianOf(
    samples.map((s) =>
      s.cpuSeconds === undefined ? undefined : (s.cpuSeconds * 1e6) / s.result.requests,
    ),
  );
  const wakeups = medianOf(
    samples.map((s) => (s.wakeups === undefined ? undefined : s.wakeups / s.result.requests)),
  );
  const busy = medianOf(
    samples.map((s) =>
      s.cpuSeconds === undefined ? undefined : s.cpuSeconds / s.result.durationS,
    ),
  );
  return {
    id: scenario.id,
    label: scenario.label,
    rounds: samples.length,
    rps: of((r) => r.rps),
    roundRps: samples.map((s) => s.result.rps),
    p50Ms: of((r) => r.latencyMs.p50),
    p90Ms: of((r) => r.latencyMs.p90),
    p99Ms: of((r) => r.latencyMs.p99),
    avgMs: of((r) => r.latencyMs.avg),
    maxMs: Math.max(...samples.map((s) => s.result.latencyMs.max)),
    requests: samples.reduce((total, s) => total + s.result.requests, 0),
    errors: {
      connect: sum("connect"),
      read: sum("read"),
      write: sum("write"),
      timeout: sum("timeout"),
      non2xx: sum("non2xx"),
    },
    ...(cpuUs !== undefined ? { serverCpuUsPerRequest: cpuUs } : {}),
    ...(busy !== undefined ? { serverCpuBusy: busy } : {}),
    ...(wakeups !== undefined ? { clientWakeupsPerRequest: wakeups } : {}),
    ...(proc ? { rssAfterMB: proc.rssMB, rssPeakMB: proc.hwmMB } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Phase "gateway": what the gateway adds to one call, direct against through it

interface GatewayCallRow {
  id: string;
  label: string;
  calls: number;
  callsPerSecond: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  /** CPU time of the server side (the upstream, or the gateway and its upstream) per call. */
  serverCpuUsPerCall?: number;
  roundMeansUs: number[];
  /** The server's heap after GC, after the rounds minus after the warm-up, per call. */
  heapGrowthPerCallBytes?: number;
  /** Against the direct call to the same upstream, median over rounds. */
  vsDirect?: { peer: string; latency: number; extraUs: number; extraCpuUs?: number };
}

const GATEWAY_PAIRS = [
  { direct: "http-direct", gateway: "http-gateway" },
  { direct: "stdio-direct", gateway: "stdio-gateway" },
];
const GATEWAY_LABELS: Record<string, string> = {
  "http-direct": "our McpServer over HTTP (stateless JSON), called directly",
  "http-gateway": "the same, through the gateway (ES256 bearer, 2026-07-28)",
  "stdio-direct": "our McpServer over stdio, called directly",
  "stdio-gateway": "the same, through the gateway (ES256 bearer, 2026-07-28)",
};

/**
 * Our McpClient calls `echo` directly on an upstream (HTTP and stdio) and through the gateway
 * in front of the same upstream program, in alternating rounds (bench/clients/gateway-calls.ts,
 * pinned to the client CPU; every server on the server CPU).
 */
async function gatewayPhase(): Promise<GatewayCallRow[]> {
  const servers: RunningServer[] = [];
  try {
    const direct = await startServer(byId("portcullis-stateless-json"));
    servers.push(direct);
    const viaHttp = await startServer(byId("gateway-http-2026"));
    servers.push(viaHttp);
    const viaStdio = await startServer(byId("gateway-stdio-2026"));
    servers.push(viaStdio);
    const stdioUpstream = join(benchDir, ".build/bench/servers/stdio-upstream.js");
    const [command, args] = pinned(config.serverCpu, [process.execPath, stdioUpstream]);
    const targets = [
      { id: "http-direct", url: direct.url, pid: direct.pid },
      { id: "http-gateway", url: viaHttp.url, token: viaHttp.token, pid: viaHttp.pid },
      { id: "stdio-direct", command: [command, ...args] },
      { id: "stdio-gateway", url: viaStdio.url, token: viaStdio.token, pid: viaStdio.pid },
    ];
    log(
      `gateway: ${config.gatewayCalls} calls per path in ${config.gatewayRounds} rounds, ${config.gatewayConcurrency} in flight`,
    );
    // The servers' heaps after GC, after the driver's warm-up and after its rounds: what the
    // measured calls left behind.
    const byTarget: Record<string, RunningServer> = {
      "http-direct": direct,
      "http-gateway": viaHttp,
      "stdio-gateway": viaStdio,
    };
    const heapBefore = new Map<string, number>();
    const driver = join(benchDir, ".build/bench/clients/gateway-calls.js");
    const [driverCmd, driverArgs] = pinned(config.clientCpu, [process.execPath, driver]);
    const output = await new Promise<string>((resolveRun, reject) => {
      const child = spawn(driverCmd, driverArgs, {
        cwd: rootDir,
        env: {
          ...process.env,
          BENCH_GATEWAY_TARGETS: JSON.stringify(targets),
          BENCH_GATEWAY_CALLS: String(config.gatewayCalls),
          BENCH_GATEWAY_ROUNDS: String(config.gatewayRounds),
          BENCH_GATEWAY_WARMUP: String(config.gatewayWarmup),
          BENCH_GATEWAY_CONCURRENCY: String(config.gatewayConcurrency),
        },
        stdio: ["ignore", "pipe", "inherit", "ipc"],
      });
      child.once("message", () => {
        void (async () => {
          for (const [id, server] of Object.entries(byTarget)) {
            heapBefore.set(id, (await server.memory()).heapUsed);
          }
          child.send({ type: "go" });
        })().catch(reject);
      });
      let out = "";
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
      });
      child.on("error", reject);
      child.on("exit", (code) =>
        code === 0 ? resolveRun(out) : reject(new Error(`gateway-calls exited ${code}`)),
      );
    });
    const { rows } = JSON.parse(output.trim().split("\n").pop()!) as {
      rows: Omit<GatewayCallRow, "label">[];
    };
    const result: GatewayCallRow[] = rows.map((row) => ({
      ...row,
      label: GATEWAY_LABELS[row.id] ?? row.id,
    }));
    for (const row of result) {
      const server = byTarget[row.id];
      const before = heapBefore.get(row.id);
      if (!server || before === undefined) continue;
      row.heapGrowthPerCallBytes = ((await server.memory()).heapUsed - before) / row.calls;
    }
    for (const pair of GATEWAY_PAIRS) {
      const base = result.find((row) => row.id === pair.direct);
      const via = result.find((row) => row.id === pair.gateway);
      if (!base || !via) continue;
      const rounds = via.roundMeansUs.map((us, i) => ({ us, base: base.roundMeansUs[i]! }));
      via.vsDirect = {
        peer: base.id,
        latency: median(rounds.map((r) => r.us / r.base)),
        extraUs: median(rounds.map((r) => r.us - r.base)),
        ...(via.serverCpuUsPerCall !== undefined &&
          base.serverCpuUsPerCall !== undefined && {
            extraCpuUs: via.serverCpuUsPerCall - base.serverCpuUsPerCall,
          }),
      };
    }
    for (const row of result) {
      log(
        `  ${row.id}: ${row.meanUs.toFixed(0)} us/call, p99 ${row.p99Us.toFixed(0)} us${row.vsDirect ? `, ${row.vsDirect.latency.toFixed(2)}x direct (+${row.vsDirect.extraUs.toFixed(0)} us)` : ""}`,
      );
    }
    return result;
  } finally {
    for (const server of servers) await server.stop();
  }
}

// ---------------------------------------------------------------------------------------
// Phase 2: idle sessions

interface SessionsRow {
  id: string;
  error?: string;
  sessions?: number;
  failed?: number;
  seconds?: number;
  heapUsedPerSessionBytes?: number;
  rssPerSessionBytes?: number;
  externalPerSessionBytes?: number;
  heapUsedBeforeMB?: number;
  heapUsedAfterMB?: number;
  rssAfterMB?: number;
  aliveAfter?: string;
}

async function sessionsPhase(): Promise<SessionsRow[]> {
  const rows: SessionsRow[] = [];
  for (const scenario of memoryScenarios()) {
    log(`sessions: ${scenario.id} (${config.sessions} idle sessions)`);
    let server: RunningServer | undefined;
    try {
      // Room for every session of this run (Portcullis bounds live sessions, LRU).
      const maxSessions = config.sessions + config.sessionWarmup + 100;
      server = await startServer(scenario, { BENCH_MAX_SESSIONS: String(maxSessions) });
      const url = server.url;
      await prepare(server);
      // Warm-up sessions: JIT, lazily built structures. Counted in the baseline.
      await pool(config.sessionWarmup, config.connections, (i) => openSession(url, `w${i}`));
      const before = await server.memory();
      if (!before.gcAvailable) throw new Error("server has no global.gc (--expose-gc missing)");
      const started = performance.now();
      let failed = 0;
      const ids = await pool(config.sessions, config.connections, async (i) => {
        try {
          return await openSession(url, i);
        } catch {
          failed++;
          return "";
        }
      });
      const seconds = (performance.now() - started) / 1000;
      const after = await server.memory();
      const created = config.sessions - failed;
      // Are the sessions still there (i.e. none expired/evicted while we measured)?
      const sample = [0, Math.floor(ids.length / 2), ids.length - 1].map((i) => ids[i] ?? "");
      let alive = 0;
      for (const sid of sample) if (sid && (await probeEcho(url, sid)).ok) alive++;
      const row: SessionsRow = {
        id: scenario.id,
        sessions: created,
        failed,
        seconds,
        heapUsedPerSessionBytes: (after.heapUsed - before.heapUsed) / created,
        rssPerSessionBytes: (after.rss - before.rss) / created,
        externalPerSessionBytes: (after.external - before.external) / created,
        heapUsedBeforeMB: mb(before.heapUsed),
        heapUsedAfterMB: mb(after.heapUsed),
        rssAfterMB: mb(after.rss),
        aliveAfter: `${alive}/${sample.length}`,
      };
      rows.push(row);
      log(
        `  ${created} sessions in ${seconds.toFixed(1)}s, heap ${row.heapUsedPerSessionBytes?.toFixed(0)} B/session, alive sample ${row.aliveAfter}`,
      );
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      log(`  FAILED: ${error.split("\n").slice(0, 6).join("\n  ")}`);
      rows.push({ id: scenario.id, error });
    } finally {
      await server?.stop();
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// Phase 3: retention on one session

interface RetentionRow {
  id: string;
  error?: string;
  requests?: number;
  errors?: number;
  firstError?: string;
  heapUsedMB?: { baseline: number; half: number; end: number };
  growthPerRequestBytes?: number;
  secondHalfGrowthPerRequestBytes?: number;
  rssAfterMB?: number;
  rps?: number;
}

/**
 * Sends exactly `count` tools/call requests on one session with `connections` in flight,
 * over keep-alive node:http connections, checking every reply (status 200, our id, the
 * echoed text). wrk cannot do this: it stops issuing requests at a Lua-side cap but still
 * runs for its whole -d duration.
 */
async function sendOnSession(
  url: string,
  sessionId: string,
  count: number,
  idPrefix: string,
): Promise<{ requests: number; errors: number; seconds: number; firstError?: string }> {
  const agent = new Agent({ keepAlive: true, maxSockets: config.connections });
  const target = new URL(url);
  const headers = { ...baseHeaders, "Mcp-Session-Id": sessionId };
  let errors = 0;
  let firstError: string | undefined;
  const one = (i: number) =>
    new Promise<void>((done) => {
      const id = `${idPrefix}${i}`;
      const body = `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`;
      const fail = (why: string) => {
        errors++;
        firstError ??= why;
        done();
      };
      const req = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: { ...headers, "Content-Length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => {
            if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode} ${text.slice(0, 200)}`);
            if (!text.includes(`"id":"${id}"`) || !text.includes('"hello"')) {
              return fail(`unexpected reply ${text.slice(0, 200)}`);
            }
            done();
          });
          res.on("error", (e) => fail(String(e)));
        },
      );
      req.on("error", (e) => fail(String(e)));
      req.end(body);
    });
  const started = performance.now();
  await pool(count, config.connections, one);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests: count, errors, seconds, ...(firstError ? { firstError } : {}) };
}

async function retentionPhase(): Promise<RetentionRow[]> {
  const rows: RetentionRow[] = [];
  const half = Math.ceil(config.retentionRequests / 2);
  for (const scenario of memoryScenarios()) {
    log(`retention: ${scenario.id} (${2 * half} requests on one session)`);
    let server: RunningServer | undefined;
    try {
      server = await startServer(scenario);
      const url = server.url;
      const { sessionId } = await prepare(server);
      if (!sessionId) throw new Error("no session");
      if (config.retentionWarmup > 0)
        await sendOnSession(url, sessionId, config.retentionWarmup, "w");
      const m0 = await server.memory();
      const a = await sendOnSession(url, sessionId, half, "a");
      const m1 = await server.memory();
      const b = await sendOnSession(url, sessionId, half, "b");
      const m2 = await server.memory();
      const probe = await probeEcho(url, sessionId);
      if (!probe.ok) throw new Error(`echo probe after load failed: ${probe.detail}`);
      const total = a.requests + b.requests;
      const row: RetentionRow = {
        id: scenario.id,
        requests: total,
        errors: a.errors + b.errors,
        ...(a.firstError || b.firstError ? { firstError: a.firstError ?? b.firstError } : {}),
        heapUsedMB: { baseline: mb(m0.heapUsed), half: mb(m1.heapUsed), end: mb(m2.heapUsed) },
        growthPerRequestBytes: (m2.heapUsed - m0.heapUsed) / total,
        secondHalfGrowthPerRequestBytes: (m2.heapUsed - m1.heapUsed) / b.requests,
        rssAfterMB: mb(m2.rss),
        rps: total / (a.seconds + b.seconds),
      };
      rows.push(row);
      log(
        `  ${total} requests (${row.errors} errors), heap ${row.heapUsedMB?.baseline.toFixed(2)} -> ${row.heapUsedMB?.half.toFixed(2)} -> ${row.heapUsedMB?.end.toFixed(2)} MB, ${row.growthPerRequestBytes?.toFixed(2)} B/request`,
      );
      if (row.firstError) log(`  first error: ${row.firstError}`);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      log(`  FAILED: ${error.split("\n").slice(0, 6).join("\n  ")}`);
      rows.push({ id: scenario.id, error });
    } finally {
      await server?.stop();
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// Output

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const f = (n: number | undefined, digits = 2) => (n === undefined ? "-" : n.toFixed(digits));
const x = (n: number | undefined) => (n === undefined ? "-" : `${n.toFixed(2)}x`);

function printThroughput(rows: ThroughputRow[]) {
  console.log(
    `\nThroughput: tools/call echo, ${config.connections} connections, ${config.rounds} interleaved rounds of ${config.duration}s each (+${config.warmup}s warm-up), wrk on CPU ${config.clientCpu}, server on CPU ${config.serverCpu}; medians over the rounds, ratios the median of each round's own`,
  );
  console.log(
    table(
      [
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "RSS MB",
        "CPU us/req",
        "busy",
        "rps/raw",
        "p99/raw",
        "rps/SDK",
        "p99/SDK",
        "errors",
      ],
      rows.map((r) =>
        r.error
          ? [
              r.id,
              "FAILED",
              "",
              "",
              "",
              "",
              "",
              "",
              "",
              "",
              "",
              r.error.split("\n")[0]!.slice(0, 60),
            ]
          : [
              r.id,
              f(r.rps, 0),
              f(r.p50Ms),
              f(r.p99Ms),
              f(r.rssAfterMB, 1),
              f(r.serverCpuUsPerRequest, 0),
              f(r.serverCpuBusy),
              x(r.vsRaw?.rps),
              x(r.vsRaw?.p99),
              x(r.vsSdk?.rps),
              x(r.vsSdk?.p99),
              String(r.errors ? Object.values(r.errors).reduce((a, b) => a + b, 0) : 0),
            ],
      ),
    ),
  );
}

/** Row a's req/s over row b's, round by round. */
function perRound(a: ThroughputRow | undefined, b: ThroughputRow | undefined): number[] {
  const theirs = b?.roundRps ?? [];
  return (a?.roundRps ?? []).slice(0, theirs.length).map((rps, i) => rps / theirs[i]!);
}

/** The issue-11 targets, from the rows of this run. */
function printTargets(rows: ThroughputRow[]) {
  const row = (id: string) => rows.find((r) => r.id === id && r.rps !== undefined);
  const lines: string[] = [];
  const stateless = row("portcullis-stateless-json");
  const bearer = row("portcullis-bearer-json");
  const modern = row("portcullis-2026-json");
  if (stateless?.vsRaw)
    lines.push(`stateless JSON / raw Hono: ${x(stateless.vsRaw.rps)} req/s (target >= 0.60x)`);
  if (bearer?.vsRaw)
    lines.push(`ES256 bearer / raw Hono:   ${x(bearer.vsRaw.rps)} req/s (target >= 0.50x)`);
  if (modern?.vsBaseline) {
    lines.push(
      `2026-07-28 / 2025:         ${x(modern.vsBaseline.rps)} req/s, ${x(modern.vsBaseline.p99)} p99 (target within 10%)`,
    );
    // Where the time goes: CPU per request, and how often a response found wrk's core idle.
    const cost = (label: string, row: ThroughputRow | undefined) =>
      row
        ? `${label} ${f(row.serverCpuUsPerRequest, 1)} us/${f(row.clientWakeupsPerRequest, 2)}`
        : undefined;
    const costs = [
      cost("2025", stateless),
      cost("2026", modern),
      cost("raw 2025", row("raw-hono")),
      cost("raw 2026", row("raw-hono-2026")),
    ].filter((entry) => entry !== undefined);
    lines.push(
      `  server CPU per request / wrk wake-up interrupts per request: ${costs.join(", ")}`,
    );
    // The 2026-07-28 call carries about 2.5x the bytes each way: the floor moves too.
    const rawModern = row("raw-hono-2026");
    const raw = row("raw-hono");
    if (rawModern && raw) {
      const floor = perRound(rawModern, raw);
      const old = perRound(stateless, raw);
      const fresh = perRound(modern, rawModern);
      const both = fresh.slice(0, old.length).map((ratio, i) => ratio / old[i]!);
      lines.push(
        `  same payloads on raw Hono:  ${x(medianOf(floor))} req/s; each era over its own floor: 2025 ${x(medianOf(old))}, 2026 ${x(medianOf(fresh))} (ratio ${x(medianOf(both))})`,
      );
    }
  }
  const noSdk = row("portcullis-otel-nosdk-json");
  const recording = row("portcullis-otel-sdk-json");
  if (noSdk?.vsBaseline) {
    lines.push(
      `OTel layer, no SDK / none: ${x(noSdk.vsBaseline.rps)} req/s, ${x(noSdk.vsBaseline.p99)} p99 (target within 3%; see npm run bench:otel for CPU/request)`,
    );
  }
  if (recording?.vsBaseline) {
    lines.push(
      `OTel layer, recording SDK: ${x(recording.vsBaseline.rps)} req/s, ${x(recording.vsBaseline.p99)} p99 (reported)`,
    );
  }
  for (const id of ["gateway-http-2026", "gateway-stdio-2026"]) {
    const via = row(id);
    if (!via?.vsBaseline) continue;
    const base = row(via.vsBaseline.peer);
    const cpu =
      via.serverCpuUsPerRequest !== undefined && base?.serverCpuUsPerRequest !== undefined
        ? `, +${f(via.serverCpuUsPerRequest - base.serverCpuUsPerRequest, 0)} CPU us/call`
        : "";
    const what = id.includes("stdio") ? "stdio upstream" : "HTTP upstream ";
    lines.push(
      `gateway, ${what} / direct HTTP: ${x(via.vsBaseline.rps)} req/s, ${x(via.vsBaseline.p99)} p99${cpu} (reported)`,
    );
  }
  if (lines.length) console.log(`\nTargets (issues 11, 13 and 17):\n  ${lines.join("\n  ")}`);
}

function printGateway(rows: GatewayCallRow[]) {
  console.log(
    `\nGateway per call: tools/call echo from our McpClient, ${config.gatewayConcurrency} in flight, ${config.gatewayCalls} calls per path in ${config.gatewayRounds} alternating rounds`,
  );
  console.log(
    table(
      [
        "path",
        "calls/s",
        "mean us",
        "p50 us",
        "p99 us",
        "server CPU us/call",
        "vs direct",
        "extra us/call",
        "extra CPU us/call",
        "heap B/call",
      ],
      rows.map((r) => [
        r.id,
        f(r.callsPerSecond, 0),
        f(r.meanUs, 0),
        f(r.p50Us, 0),
        f(r.p99Us, 0),
        f(r.serverCpuUsPerCall, 0),
        x(r.vsDirect?.latency),
        r.vsDirect ? `+${f(r.vsDirect.extraUs, 0)}` : "-",
        r.vsDirect?.extraCpuUs === undefined ? "-" : `+${f(r.vsDirect.extraCpuUs, 0)}`,
        f(r.heapGrowthPerCallBytes, 0),
      ]),
    ),
  );
  for (const r of rows) console.log(`  ${r.id}: ${r.label}`);
}

function printSessions(rows: SessionsRow[]) {
  console.log(
    `\nIdle sessions: ${config.sessions} sessions (initialize + initialized), after forced GC`,
  );
  console.log(
    table(
      [
        "server",
        "sessions",
        "heap B/session",
        "RSS B/session",
        "heap MB before->after",
        "alive",
        "secs",
      ],
      rows.map((r) =>
        r.error
          ? [r.id, "FAILED", r.error.split("\n")[0]!.slice(0, 60), "", "", "", ""]
          : [
              r.id,
              `${r.sessions}${r.failed ? ` (${r.failed} failed)` : ""}`,
              f(r.heapUsedPerSessionBytes, 0),
              f(r.rssPerSessionBytes, 0),
              `${f(r.heapUsedBeforeMB, 1)} -> ${f(r.heapUsedAfterMB, 1)}`,
              r.aliveAfter ?? "-",
              f(r.seconds, 1),
            ],
      ),
    ),
  );
}

function printRetention(rows: RetentionRow[]) {
  console.log(
    `\nRetention: ${config.retentionRequests} tools/call on ONE session (${config.connections} concurrent), heap after forced GC`,
  );
  console.log(
    table(
      [
        "server",
        "requests",
        "heap MB 0 -> 50% -> 100%",
        "B/request",
        "2nd half B/req",
        "req/s",
        "errors",
      ],
      rows.map((r) =>
        r.error
          ? [r.id, "FAILED", r.error.split("\n")[0]!.slice(0, 60), "", "", "", ""]
          : [
              r.id,
              String(r.requests),
              `${f(r.heapUsedMB?.baseline)} -> ${f(r.heapUsedMB?.half)} -> ${f(r.heapUsedMB?.end)}`,
              f(r.growthPerRequestBytes, 3),
              f(r.secondHalfGrowthPerRequestBytes, 3),
              f(r.rps, 0),
              String(r.errors),
            ],
      ),
    ),
  );
}

function versionOf(pkg: string): string | undefined {
  try {
    const file = join(rootDir, "node_modules", pkg, "package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------

async function main() {
  if (!haveCommand("wrk")) {
    throw new Error("wrk not found: apt-get update && apt-get install -y wrk");
  }
  pinSelf();
  const startedAt = new Date();
  const load = loadavg();
  if (load[0]! > 0.5) {
    log(`warning: load average ${load.map((l) => l.toFixed(2)).join(" ")}: other work on this`);
    log("machine competes with the pinned server/wrk cores, numbers will be noisy");
  }
  let wrkVersion = "";
  try {
    execFileSync("wrk", ["--version"], { encoding: "utf8" });
  } catch (e) {
    // `wrk --version` prints its banner and exits 1.
    wrkVersion = String((e as { stdout?: string }).stdout ?? "").split("\n")[0] ?? "";
  }

  const results: {
    meta: Record<string, unknown>;
    throughput?: ThroughputRow[];
    gateway?: GatewayCallRow[] | { error: string };
    sessions?: SessionsRow[];
    retention?: RetentionRow[];
  } = {
    meta: {
      startedAt: startedAt.toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model,
      cpuCount: cpus().length,
      pinned: useTaskset,
      loadAverageAtStart: load,
      wrk: wrkVersion,
      versions: {
        "@modelcontextprotocol/sdk": versionOf("@modelcontextprotocol/sdk"),
        hono: versionOf("hono"),
        "@hono/node-server": versionOf("@hono/node-server"),
      },
      config: { ...config, out: undefined },
    },
  };

  if (config.phases.includes("throughput")) results.throughput = await throughputPhase();
  if (config.phases.includes("gateway")) {
    results.gateway = await gatewayPhase().catch((e: unknown) => {
      const error = e instanceof Error ? e.message : String(e);
      log(`gateway: FAILED: ${error.split("\n").slice(0, 6).join("\n  ")}`);
      return { error };
    });
  }
  if (config.phases.includes("sessions")) results.sessions = await sessionsPhase();
  if (config.phases.includes("retention")) results.retention = await retentionPhase();
  results.meta.seconds = (Date.now() - startedAt.getTime()) / 1000;

  if (results.throughput) {
    printThroughput(results.throughput);
    printTargets(results.throughput);
  }
  if (results.gateway) {
    if (Array.isArray(results.gateway)) printGateway(results.gateway);
    else console.log(`\nGateway per call: FAILED: ${results.gateway.error.split("\n")[0]}`);
  }
  if (results.sessions) printSessions(results.sessions);
  if (results.retention) printRetention(results.retention);

  if (!existsSync(dirname(config.out))) mkdirSync(dirname(config.out), { recursive: true });
  writeFileSync(config.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${config.out} (${(results.meta.seconds as number).toFixed(0)}s total)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
