// The per-call part of the gateway bench (bench/run.ts, phase "gateway"): our McpClient calls
// `echo` on each target (an upstream directly, or the gateway in front of it) in short rounds
// that rotate the targets' order, so a busy neighbour weighs on all of them alike. Run by the
// runner as tsc's output on plain node, pinned to the client CPU; prints one JSON line.
//
// BENCH_GATEWAY_TARGETS: JSON list of { id, url?, token?, command?, pid? }: an HTTP target by
// url (with a bearer token for the gateway), or a stdio target by command (argv; the runner
// pins it to the server CPU). `pid`: the server process whose tree's CPU time is counted; a
// stdio target counts its own child.
import { McpClient } from "../../src/client/index.ts";
import { StdioClientTransport } from "../../src/node/index.ts";
import { treeCpuSeconds } from "../servers/_common.ts";

interface Target {
  id: string;
  url?: string;
  token?: string;
  command?: string[];
  pid?: number;
}

const targets = JSON.parse(process.env.BENCH_GATEWAY_TARGETS ?? "[]") as Target[];
const calls = Number(process.env.BENCH_GATEWAY_CALLS ?? 1500);
const rounds = Math.max(1, Number(process.env.BENCH_GATEWAY_ROUNDS ?? 10));
const warmup = Number(process.env.BENCH_GATEWAY_WARMUP ?? 300);
const concurrency = Math.max(1, Number(process.env.BENCH_GATEWAY_CONCURRENCY ?? 1));
const perRound = Math.max(1, Math.round(calls / rounds));

interface Connected {
  target: Target;
  client: McpClient;
  pid: number | undefined;
  latenciesUs: number[];
  /** Mean µs per call of each round, in round order. */
  roundMeansUs: number[];
  cpuSeconds: number;
  wallSeconds: number;
}

async function connect(target: Target): Promise<Connected> {
  const client = new McpClient({ name: "portcullis-bench", version: "1.0.0" });
  let pid = target.pid;
  if (target.command) {
    const [command, ...args] = target.command;
    const transport = new StdioClientTransport({ command: command!, args, stderr: "inherit" });
    await client.connect(transport);
    pid = transport.process?.pid;
  } else {
    await client.connect(target.url!, {
      ...(target.token && { headers: { authorization: `Bearer ${target.token}` } }),
    });
  }
  return { target, client, pid, latenciesUs: [], roundMeansUs: [], cpuSeconds: 0, wallSeconds: 0 };
}

/** `count` calls with `concurrency` in flight; every reply must be the echo. */
async function callMany(client: McpClient, count: number, latencies?: number[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const started = performance.now();
      const result = await client.callTool("echo", { text: "hello" });
      const elapsed = performance.now() - started;
      const first = (result.content as { type: string; text?: string }[] | undefined)?.[0];
      if (first?.text !== "hello") throw new Error(`not the echo: ${JSON.stringify(result)}`);
      latencies?.push(elapsed * 1000);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

const connected: Connected[] = [];
for (const target of targets) connected.push(await connect(target));
for (const one of connected) await callMany(one.client, warmup);
// Started with an IPC channel, the runner reads the servers' heaps now, after the warm-up.
if (process.send) {
  const send = process.send.bind(process);
  await new Promise<void>((resolve) => {
    process.once("message", () => resolve());
    send({ type: "warm" });
  });
}
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < connected.length; i++) {
    const one = connected[(round + i) % connected.length]!;
    const latencies: number[] = [];
    const cpuBefore = one.pid === undefined ? undefined : treeCpuSeconds(one.pid);
    const started = performance.now();
    await callMany(one.client, perRound, latencies);
    one.wallSeconds += (performance.now() - started) / 1000;
    const cpuAfter = one.pid === undefined ? undefined : treeCpuSeconds(one.pid);
    if (cpuBefore !== undefined && cpuAfter !== undefined) one.cpuSeconds += cpuAfter - cpuBefore;
    one.latenciesUs.push(...latencies);
    one.roundMeansUs[round] = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  }
}
for (const one of connected) await one.client.close();

const rows = connected.map((one) => {
  const sorted = [...one.latenciesUs].sort((a, b) => a - b);
  return {
    id: one.target.id,
    calls: sorted.length,
    callsPerSecond: sorted.length / one.wallSeconds,
    meanUs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50Us: quantile(sorted, 0.5),
    p99Us: quantile(sorted, 0.99),
    serverCpuUsPerCall: one.pid === undefined ? undefined : (one.cpuSeconds * 1e6) / sorted.length,
    roundMeansUs: one.roundMeansUs,
  };
});
process.stdout.write(`${JSON.stringify({ rounds, perRound, concurrency, rows })}\n`);
process.disconnect?.();
