// Shared plumbing for the bench servers: bind 127.0.0.1 on $PORT (0 = ephemeral), print a
// ready line the runner parses, exit on SIGTERM, and answer memory probes over the IPC
// channel (kept off the HTTP path so it cannot affect what is measured).
import { readdirSync, readFileSync } from "node:fs";
import { serve } from "@hono/node-server";

/** The configured client the runner gets bearer tokens for (client_credentials). */
export const BENCH_CLIENT = {
  id: "bench-client",
  secret: "bench-client-secret-0123456789abcdef",
} as const;

export type FetchHandler = (req: Request) => Response | Promise<Response>;

/** Modes shared by the MCP bench servers, from the environment. */
export function benchMode(): { stateful: boolean; json: boolean } {
  const mode = process.env.BENCH_MODE ?? "stateless";
  const response = process.env.BENCH_RESPONSE ?? "json";
  if (mode !== "stateless" && mode !== "stateful") throw new Error(`bad BENCH_MODE ${mode}`);
  if (response !== "json" && response !== "sse") throw new Error(`bad BENCH_RESPONSE ${response}`);
  return { stateful: mode === "stateful", json: response === "json" };
}

type MemoryProbe = { type: "memory"; id: number; gc: boolean };

async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  // A few rounds with a turn of the event loop between them, so that objects released by
  // finalizers / microtasks of the previous round are collected too.
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export function startBenchServer(name: string, fetch: FetchHandler): void {
  const port = Number(process.env.PORT ?? 0);
  const server = serve({ fetch, port, hostname: "127.0.0.1" }, (info) => {
    console.log(`READY ${name} port=${info.port} pid=${process.pid}`);
  });

  const shutdown = () => {
    server.close();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);

  if (process.send) {
    // Parent went away: do not linger as an orphan.
    process.on("disconnect", shutdown);
    process.on("message", (raw: unknown) => {
      const msg = raw as MemoryProbe;
      if (msg?.type !== "memory") return;
      void (async () => {
        if (msg.gc) await collect();
        process.send?.({
          type: "memory",
          id: msg.id,
          gcAvailable: typeof (globalThis as { gc?: unknown }).gc === "function",
          ...process.memoryUsage(),
        });
      })();
    });
  }
}

/**
 * utime + stime in seconds of a process and all its descendants, from /proc (clock ticks are
 * 100 Hz on Linux): a gateway bench server counts with the upstream it started. Undefined when
 * the process is gone.
 */
export function treeCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  let total = (Number(fields[11]) + Number(fields[12])) / 100;
  for (const task of safeList(`/proc/${pid}/task`)) {
    let children = "";
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8");
    } catch {
      continue;
    }
    for (const child of children.split(" ").filter(Boolean)) {
      total += treeCpuSeconds(Number(child)) ?? 0;
    }
  }
  return total;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
