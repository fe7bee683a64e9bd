// tools/call over Redis Streams (1 and 3 consumer processes) beside Streamable HTTP (one
// process), same machine, same client (McpClient, 2026-07-28), closed loop: BENCH_CONCURRENCY
// calls in flight for BENCH_DURATION seconds after a warm-up. Prints calls/s, p50 and p99.
// The machine is shared: read the figures as noisy, and the ratios as the point.
//
//   npm run bench:queue
//
// Redis: REDIS_URL when set, else a private redis-server on a free loopback port.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { McpClient } from "../src/client/index.ts";
import { queueTransport } from "../src/queue/index.ts";
import { connectRedis, redisStreams } from "../src/redis/index.ts";

const benchDir = dirname(fileURLToPath(import.meta.url));
const duration = Number(process.env.BENCH_DURATION ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function started(child: ChildProcess, pattern: RegExp): Promise<void> {
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk;
      if (pattern.test(out)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

async function redisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  const port = await freePort();
  const server = spawn("redis-server", [
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  await started(server, /Ready to accept connections/);
  return `redis://127.0.0.1:${port}`;
}

/** Runs the closed loop and returns calls/s and latency percentiles (ms). */
async function measure(call: () => Promise<unknown>) {
  const latencies: number[] = [];
  let recording = false;
  let running = true;
  const worker = async () => {
    while (running) {
      const start = performance.now();
      await call();
      if (recording) latencies.push(performance.now() - start);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  recording = true;
  const began = performance.now();
  await new Promise((r) => setTimeout(r, duration * 1000));
  recording = false;
  const seconds = (performance.now() - began) / 1000;
  running = false;
  await Promise.all(workers);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return {
    rps: Math.round(latencies.length / seconds),
    p50: at(0.5).toFixed(2),
    p99: at(0.99).toFixed(2),
  };
}

const url = await redisUrl();
const results: Record<string, unknown>[] = [];

// HTTP: the same tool on Streamable HTTP (stateless, JSON answers), in a process of its own
// as the queue consumers are (bench/servers/portcullis.ts).
{
  const server = spawn(
    process.execPath,
    ["--import", "tsx", join(benchDir, "servers", "portcullis.ts")],
    {
      env: { ...process.env, BENCH_MODE: "stateless", BENCH_RESPONSE: "json", PORT: "0" },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    },
  );
  let out = "";
  server.stdout?.on("data", (chunk: Buffer) => {
    out += chunk;
  });
  await started(server, /READY \S+ port=\d+/);
  const port = /port=(\d+)/.exec(out)![1];
  const client = new McpClient({ name: "bench", version: "1.0.0", protocolVersion: "2026-07-28" });
  await client.connect(`http://127.0.0.1:${port}/mcp`);
  results.push({
    transport: "streamable http, 1 server process",
    ...(await measure(() => client.callTool("echo", { text: "hi" }))),
  });
  await client.close();
}

for (const consumers of [1, 3]) {
  const prefix = `bench:${consumers}:${Date.now()}:`;
  await Promise.all(
    Array.from({ length: consumers }, (_, i) =>
      started(
        spawn(
          process.execPath,
          ["--import", "tsx", join(benchDir, "servers", "queue-consumer.ts")],
          {
            env: { ...process.env, REDIS_URL: url, PREFIX: prefix, CONSUMER: `c${i + 1}` },
            stdio: ["ignore", "pipe", "pipe", "ipc"],
          },
        ),
        /READY/,
      ),
    ),
  );
  const redis = connectRedis(url, { commandTimeout: 10_000 });
  const streams = redisStreams({ client: redis, timeoutMs: 10_000 });
  const replyTo = `${prefix}replies`;
  const client = new McpClient({ name: "bench", version: "1.0.0", protocolVersion: "2026-07-28" });
  await client.connect(
    queueTransport({
      send: (m) => streams.send(`${prefix}requests`, m),
      receive: streams.read(replyTo),
      replyTo,
    }),
  );
  results.push({
    transport: `redis streams, ${consumers} consumer process(es)`,
    ...(await measure(() => client.callTool("echo", { text: "hi" }))),
  });
  await client.close();
  redis.disconnect();
}

console.log(`tools/call, ${concurrency} in flight, ${duration} s (shared 2-core machine: noisy)`);
console.table(results);
for (const child of children) child.kill("SIGTERM");
process.exit(0);
