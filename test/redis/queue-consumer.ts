/**
 * One server process consuming MCP requests from a Redis stream, for the queue suites: run as
 * a child process (`node --import tsx test/redis/queue-consumer.ts`). Prints `READY` once it
 * consumes, and stops on SIGTERM, when its parent goes away, or after MAX_LIFETIME_MS; the
 * tests also kill it with SIGKILL mid-run.
 *
 * Environment: REDIS_URL, PREFIX (keys and stream names), CONSUMER (its name in the group),
 * ISSUER (a JWKS issuer on loopback, from test/helpers/jwt.ts), AUDIENCE, and the lease
 * settings CLAIM_IDLE_MS, LEASE_MS, HEARTBEAT_MS.
 *
 * Tools: "work" counts each run of a request id in Redis (`${PREFIX}runs`, a hash) and answers
 * its number; "wait" records that it started and then that its signal aborted.
 */
import { z } from "zod";
import { jwksVerifier, McpServer } from "../../src/index.ts";
import { serveQueue } from "../../src/queue/index.ts";
import { connectRedis, redisStore, redisStreams } from "../../src/redis/index.ts";

const MAX_LIFETIME_MS = 5 * 60_000;
const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};
const prefix = env("PREFIX");
const redis = connectRedis(env("REDIS_URL"));
redis.on("error", () => {});

const mcp = new McpServer({ name: "queue-consumer", version: "1.0.0" });
mcp.tool("work", { input: z.object({ n: z.number() }), scopes: ["work"] }, async ({ n }, ctx) => {
  await redis.hincrby(`${prefix}runs`, String(ctx.requestId), 1);
  await ctx.progress(1, 2, "half way");
  return `done ${n} by ${process.env.CONSUMER}`;
});
mcp.tool("wait", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
  await redis.rpush(`${prefix}events`, `started ${key}`);
  await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
  await redis.rpush(`${prefix}events`, `aborted ${key} on ${process.env.CONSUMER}`);
  return "never answered";
});

const streams = redisStreams({ client: redis, maxLen: 100_000 });
const issuer = env("ISSUER");
const server = serveQueue(mcp, {
  receive: streams.consume({
    stream: `${prefix}requests`,
    group: "mcp",
    consumer: env("CONSUMER"),
    claimIdleMs: Number(env("CLAIM_IDLE_MS")),
    blockMs: 100,
    count: 32,
  }),
  send: streams.send,
  deadLetter: streams.deadLetter(`${prefix}dead`),
  store: redisStore({ client: redis, prefix }),
  auth: {
    issuer,
    verify: jwksVerifier({ issuer, jwksUri: `${issuer}/jwks`, allowInsecureRequests: true }),
  },
  audience: env("AUDIENCE"),
  leaseMs: Number(env("LEASE_MS")),
  heartbeatMs: Number(env("HEARTBEAT_MS")),
  maxAttempts: 10,
  concurrency: 32,
  consumerId: env("CONSUMER"),
});

const stop = () => {
  void server.close().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("disconnect", stop);
setTimeout(stop, MAX_LIFETIME_MS).unref();
if (redis.status !== "ready") await new Promise((resolve) => redis.once("ready", resolve));
console.log("READY");
