// Multi-instance throughput: stateful tools/call on one session, served by 1 process and by
// 2 processes that share their sessions through Redis. See bench/README.md.
//
//   npm run bench:multi
//   BENCH_DURATION=5 npm run bench:multi
//
// Redis: REDIS_URL when set, else a private redis-server on a free loopback port, stopped at
// the end. Load: wrk -t1 -c$BENCH_CONNECTIONS with bench/wrk/mcp.lua, as in bench/run.ts.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = resolve(benchDir, "..");
const luaScript = join(benchDir, "wrk", "mcp.lua");
const serverScript = join(benchDir, "servers", "portcullis-cluster.ts");

const number = (name: string, fallback: number) => {
  const raw = process.env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number`);
  return value;
};
const config = {
  duration: number("BENCH_DURATION", 10),
  warmup: number("BENCH_WARMUP", 3),
  connections: number("BENCH_CONNECTIONS", 50),
  out: resolve(rootDir, process.env.BENCH_OUT ?? "bench/results/multi.json"),
};

interface Scenario {
  id: string;
  label: string;
  processes: number;
  sessions: "memory" | "redis";
}

const scenarios: Scenario[] = [
  {
    id: "1-process-memory",
    label: "1 process, sessions in memory",
    processes: 1,
    sessions: "memory",
  },
  { id: "1-process-redis", label: "1 process, sessions in Redis", processes: 1, sessions: "redis" },
  {
    id: "2-processes-redis",
    label: "2 processes, sessions in Redis",
    processes: 2,
    sessions: "redis",
  },
];

const log = (message: string) => console.error(`[bench:multi] ${message}`);

// ---------------------------------------------------------------------------------------
// Redis

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  return typeof address === "object" && address ? address.port : 0;
}

async function startRedis(): Promise<{ url: string; stop: () => void; pid?: number }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: () => {} };
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Promise<void>((ready, fail) => {
    let out = "";
    child.on("error", (error) =>
      fail(
        new Error(
          `redis-server could not start (apt-get install -y redis-server): ${error.message}`,
        ),
      ),
    );
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (out.includes("Ready to accept connections")) ready();
    });
  });
  log(`private redis-server on 127.0.0.1:${port}`);
  const stop = () => child.kill("SIGTERM");
  return { url: `redis://127.0.0.1:${port}`, stop, ...(child.pid ? { pid: child.pid } : {}) };
}

// ---------------------------------------------------------------------------------------
// Servers

interface Running {
  url: string;
  pids: number[];
  stop: () => Promise<void>;
}

async function startServer(scenario: Scenario, redisUrl: string): Promise<Running> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", serverScript], {
    cwd: rootDir,
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      BENCH_PROCESSES: String(scenario.processes),
      BENCH_SESSIONS: scenario.sessions,
      BENCH_PREFIX: `bench:${scenario.id}:${Date.now()}:`,
    },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const { port, workers } = await new Promise<{ port: number; workers: number[] }>(
    (ready, fail) => {
      let out = "";
      const timer = setTimeout(() => fail(new Error(`no ready line in 30 s\n${stderr}`)), 30_000);
      child.once("exit", (code) => fail(new Error(`server exited (${code})\n${stderr}`)));
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        const readyLine = /READY \S+ port=(\d+)/.exec(out);
        const workerLine = /WORKERS ([\d,]+)/.exec(out);
        if (readyLine && workerLine) {
          clearTimeout(timer);
          ready({ port: Number(readyLine[1]), workers: workerLine[1]!.split(",").map(Number) });
        }
      });
    },
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    child.kill("SIGTERM");
    await exited;
  };
  return { url: `http://127.0.0.1:${port}/mcp`, pids: [child.pid!, ...workers], stop };
}

// ---------------------------------------------------------------------------------------
// MCP and wrk

const headers = {
  "Content-Type": "application/json",
  Accept: "application/json, text/event-stream",
  "MCP-Protocol-Version": "2025-11-25",
};

async function openSession(url: string): Promise<string> {
  const init = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "bench", version: "1" },
      },
    }),
  });
  await init.text();
  const id = init.headers.get("mcp-session-id");
  if (init.status !== 200 || !id) throw new Error(`initialize failed: HTTP ${init.status}`);
  const note = await fetch(url, {
    method: "POST",
    headers: { ...headers, "Mcp-Session-Id": id },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await note.text();
  return id;
}

/** Several echo calls on fresh connections, so that with 2 processes both must answer. */
async function probe(url: string, sessionId: string): Promise<void> {
  for (let i = 0; i < 6; i++) {
    const reply = await fetch(url, {
      method: "POST",
      headers: { ...headers, "Mcp-Session-Id": sessionId, Connection: "close" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: `probe${i}`,
        method: "tools/call",
        params: { name: "echo", arguments: { text: "hello" } },
      }),
    });
    const text = await reply.text();
    if (reply.status !== 200 || !text.includes('"hello"')) {
      throw new Error(`echo probe failed: HTTP ${reply.status} ${text.slice(0, 200)}`);
    }
  }
}

interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function parseWrk(raw: string): WrkResult {
  const need = (re: RegExp) => {
    const match = re.exec(raw);
    if (!match) throw new Error(`could not parse wrk output:\n${raw}`);
    return match;
  };
  const pct = (p: number) => {
    const match = need(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, "m"));
    return Number(match[1]) * (unitMs[match[2]!] ?? Number.NaN);
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(raw);
  const errors =
    (socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0) +
    Number(non2xx?.[1] ?? 0);
  return {
    rps: Number(need(/Requests\/sec:\s+([\d.]+)/)[1]),
    p50Ms: pct(50),
    p99Ms: pct(99),
    requests: Number(need(/(\d+) requests in/)[1]),
    errors,
  };
}

function wrk(
  url: string,
  sessionId: string,
  seconds: number,
  idPrefix: string,
): Promise<WrkResult> {
  return new Promise((done, fail) => {
    const child = spawn(
      "wrk",
      [
        "-t1",
        `-c${config.connections}`,
        `-d${seconds}s`,
        "--timeout",
        "10s",
        "--latency",
        "-s",
        luaScript,
        url,
      ],
      {
        env: { ...process.env, BENCH_SESSION_ID: sessionId, BENCH_ID_PREFIX: idPrefix },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.on("error", fail);
    child.on("exit", (code) => {
      if (code !== 0) return fail(new Error(`wrk exited ${code}: ${out}`));
      try {
        done(parseWrk(out));
      } catch (error) {
        fail(error);
      }
    });
  });
}

/** User+system CPU seconds of a process, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------

interface Row extends Partial<WrkResult> {
  id: string;
  label: string;
  /** CPU seconds per process during the timed run: primary, then workers. */
  cpu?: number[];
  redisCpu?: number;
  error?: string;
}

async function main() {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") {
      throw new Error("wrk not found: apt-get update && apt-get install -y wrk");
    }
  }
  const load = loadavg();
  if (load[0]! > 0.5)
    log(`warning: load average ${load.map((l) => l.toFixed(2)).join(" ")}: numbers will be noisy`);
  const redis = await startRedis();
  const rows: Row[] = [];
  try {
    for (const scenario of scenarios) {
      log(scenario.label);
      let server: Running | undefined;
      try {
        server = await startServer(scenario, redis.url);
        const sessionId = await openSession(server.url);
        await probe(server.url, sessionId);
        if (config.warmup > 0) await wrk(server.url, sessionId, config.warmup, "w");
        const before = server.pids.map(cpuSeconds);
        const redisBefore = redis.pid ? cpuSeconds(redis.pid) : 0;
        const result = await wrk(server.url, sessionId, config.duration, "m");
        const cpu = server.pids.map((pid, i) => cpuSeconds(pid) - before[i]!);
        const redisCpu = redis.pid ? cpuSeconds(redis.pid) - redisBefore : undefined;
        await probe(server.url, sessionId);
        rows.push({
          id: scenario.id,
          label: scenario.label,
          ...result,
          cpu,
          ...(redisCpu === undefined ? {} : { redisCpu }),
        });
      } catch (error) {
        rows.push({ id: scenario.id, label: scenario.label, error: (error as Error).message });
        log(`  FAILED: ${(error as Error).message.split("\n")[0]}`);
      } finally {
        await server?.stop();
      }
    }
  } finally {
    redis.stop();
  }

  const base = rows[0]?.rps;
  const table = [
    [
      "scenario",
      "req/s",
      "p50 ms",
      "p99 ms",
      "vs 1 process",
      "errors",
      "CPU us/req",
      "CPU s (primary, workers)",
      "redis CPU s",
    ],
    ...rows.map((row) =>
      row.error
        ? [row.id, "FAILED", "", "", "", "", "", row.error.split("\n")[0]!.slice(0, 60), ""]
        : [
            row.id,
            row.rps!.toFixed(0),
            row.p50Ms!.toFixed(2),
            row.p99Ms!.toFixed(2),
            base ? `${(row.rps! / base).toFixed(2)}x` : "-",
            String(row.errors),
            ((row.cpu!.reduce((sum, c) => sum + c, 0) / row.requests!) * 1e6).toFixed(0),
            row.cpu!.map((c) => c.toFixed(1)).join(", "),
            row.redisCpu === undefined ? "-" : row.redisCpu.toFixed(1),
          ],
    ),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  console.log(
    `\nMulti-instance throughput: stateful tools/call echo on one session, JSON replies, ${config.connections} connections, ${config.duration}s (+${config.warmup}s warm-up), ${cpus().length} CPUs, nothing pinned`,
  );
  for (const [i, row] of table.entries()) {
    console.log(
      row
        .map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!)))
        .join("  "),
    );
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
  if (!existsSync(dirname(config.out))) mkdirSync(dirname(config.out), { recursive: true });
  writeFileSync(
    config.out,
    `${JSON.stringify({ meta: { node: process.version, cpu: cpus()[0]?.model, loadAverageAtStart: load, config }, rows }, null, 2)}\n`,
  );
  console.log(`\nwrote ${config.out}`);
  if (rows.some((row) => row.error || row.errors)) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
