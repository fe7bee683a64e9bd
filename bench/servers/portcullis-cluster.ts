// Portcullis on several processes sharing one port (node:cluster; the primary hands each new
// connection to the next worker), stateful, answering JSON. Used by bench/multi.ts.
//
//   BENCH_PROCESSES=2     worker processes (default 1)
//   BENCH_SESSIONS=redis  sessions in Redis (REDIS_URL) shared by the workers; "memory" keeps
//                         them in each process, which only works with one worker
//
// Prints `READY portcullis-cluster port=<n> pid=<pid>` once every worker listens; exits on
// SIGTERM, or when the runner goes away.
import cluster from "node:cluster";
import { serve } from "@hono/node-server";
import { z } from "zod";
import { McpServer, mcpApp, type SessionOptions } from "../../src/index.ts";
import { connectRedis, redisBus, redisStore } from "../../src/redis/index.ts";

const processes = Number(process.env.BENCH_PROCESSES ?? 1);
const sessions = process.env.BENCH_SESSIONS ?? "redis";

if (cluster.isPrimary) {
  let listening = 0;
  let port = 0;
  const workers = Array.from({ length: processes }, () => cluster.fork());
  for (const worker of workers) {
    worker.on("message", (message: { port?: number }) => {
      if (typeof message.port !== "number") return;
      port = message.port;
      if (++listening === processes) {
        console.log(`READY portcullis-cluster port=${port} pid=${process.pid}`);
        console.log(`WORKERS ${workers.map((w) => w.process.pid).join(",")}`);
      }
    });
  }
  const shutdown = () => {
    for (const worker of workers) worker.process.kill("SIGTERM");
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  if (process.send) process.on("disconnect", shutdown);
} else {
  const mcp = new McpServer({ name: "bench", version: "1.0.0" });
  mcp.tool(
    "echo",
    { description: "Echo", input: z.object({ text: z.string() }) },
    ({ text }) => text,
  );
  let shared: SessionOptions = {};
  if (sessions === "redis") {
    const url = process.env.REDIS_URL;
    if (!url) throw new Error("BENCH_SESSIONS=redis needs REDIS_URL");
    const client = connectRedis(url);
    const prefix = process.env.BENCH_PREFIX ?? "bench:";
    const bus = redisBus({ client, prefix });
    shared = { store: redisStore({ client, prefix }), bus };
    await bus.ready();
  }
  const app = mcpApp(mcp, { path: "/mcp", jsonResponse: true, sessions: shared });
  // Port 0 in every worker: node:cluster gives them all the same one.
  serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
    process.send?.({ port: info.port });
  });
  process.on("SIGTERM", () => process.exit(0));
  process.on("disconnect", () => process.exit(0));
}
