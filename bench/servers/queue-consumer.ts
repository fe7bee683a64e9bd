// One MCP server process consuming tools/call requests from a Redis stream (serveQueue over
// redisStreams, claims in redisStore), for bench/queue.ts. One "echo" tool, no auth.
//
//   REDIS_URL, PREFIX, CONSUMER
//
// Prints `READY` once connected; exits on SIGTERM or when the runner goes away.
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import { serveQueue } from "../../src/queue/index.ts";
import { connectRedis, redisStore, redisStreams } from "../../src/redis/index.ts";

const prefix = process.env.PREFIX ?? "bench:";
const redis = connectRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
redis.on("error", () => {});
const mcp = new McpServer({ name: "bench-queue", version: "1.0.0" });
mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
const streams = redisStreams({ client: redis });
const server = serveQueue(mcp, {
  receive: streams.consume({
    stream: `${prefix}requests`,
    group: "bench",
    consumer: process.env.CONSUMER ?? "c1",
    count: 64,
  }),
  send: streams.send,
  deadLetter: streams.deadLetter(`${prefix}dead`),
  store: redisStore({ client: redis, prefix, timeoutMs: 10_000 }),
  concurrency: 64,
});
const stop = () => void server.close().finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("disconnect", stop);
if (redis.status !== "ready") await new Promise((resolve) => redis.once("ready", resolve));
console.log("READY");
