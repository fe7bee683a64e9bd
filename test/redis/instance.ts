/**
 * One instance of a multi-instance deployment, for the Redis suites: run as a child process
 * (`node --import tsx test/redis/instance.ts`). It binds 127.0.0.1 on a free port, prints
 * `READY <port>`, and stops on SIGTERM, when its parent goes away, or after MAX_LIFETIME_MS.
 *
 * Every instance answers as the same public origin (PUBLIC_HOST), as behind a load balancer
 * that keeps the Host header: issuer, token audience and resource URLs agree whichever
 * instance a request lands on.
 *
 * Environment: REDIS_URL, PREFIX (key and channel prefix of this deployment), PUBLIC_HOST,
 * SECRET, REGISTER_LIMIT (registrations per minute and rate key), REFRESH_GRACE_MS, AS_BUS
 * (0: the authorization server is not given the Bus, so revocations travel only by the Store),
 * RECHECK_SECONDS (its revocationRecheckSeconds).
 *
 * POST /__test/clock/:ms moves this instance's clock (given to the authorization server) ahead
 * by that many milliseconds, so a test passes a grace period without sleeping.
 */
import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { z } from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { connectRedis, redisBus, redisEventStore, redisStore } from "../../src/redis/index.ts";

const MAX_LIFETIME_MS = 5 * 60_000;

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const prefix = env("PREFIX");
const publicHost = env("PUBLIC_HOST", "127.0.0.1:9");
const redis = connectRedis(env("REDIS_URL"));
redis.on("error", () => {
  // Reconnection is automatic; the endpoints answer 503 meanwhile.
});
const store = redisStore({ client: redis, prefix });
const bus = redisBus({ client: redis, prefix });

/** Gates the test opens over HTTP, on the instance that runs the tool. */
const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
const gate = (name: string) => {
  let found = gates.get(name);
  if (!found) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    gates.set(name, (found = { promise, open }));
  }
  return found;
};

const mcp = new McpServer({
  name: "multi",
  version: "1.0.0",
  secret: env("SECRET"),
  tasks: { store, pollIntervalMs: 100 },
});
mcp.tool("whoami", {}, (_args, ctx) => `${process.env.INSTANCE} ${ctx.auth?.subject ?? "-"}`);
mcp.tool("steps", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
  ctx.log.info(`step 1 on ${process.env.INSTANCE}`);
  await gate(`${key}:1`).promise;
  ctx.log.info("step 2");
  await gate(`${key}:2`).promise;
  ctx.log.info("step 3");
  return `stepped on ${process.env.INSTANCE}`;
});
mcp.tool("ask", {}, async (_args, ctx) => {
  const answer = await ctx.elicit({
    message: "Your name?",
    schema: z.object({ name: z.string() }),
  });
  return answer.action === "accept" ? `hello ${answer.content.name}` : answer.action;
});
mcp.tool(
  "job",
  { input: z.object({ key: z.string() }), taskSupport: "optional" },
  async ({ key }) => {
    await gate(key).promise;
    return `job ${key} done on ${process.env.INSTANCE}`;
  },
);
mcp.tool("touch", { input: z.object({ uri: z.string() }) }, ({ uri }) => {
  mcp.resourceUpdated(uri);
  return "touched";
});
mcp.resource("notes://{id}", {}, ({ id }) => `note ${id}`);

let clockOffsetMs = 0;

const limit = Number(env("REGISTER_LIMIT", "1000"));
const auth = authorizationServer({
  store,
  login: devLogin(),
  issuer: `http://${publicHost}`,
  secret: env("SECRET"),
  rateLimits: {
    register: { limit, windowSeconds: 60 },
    authorize: { limit: 100_000, windowSeconds: 60 },
    token: { limit: 100_000, windowSeconds: 60 },
    // Each test names its own bucket; the default (the peer address) is 127.0.0.1 for all.
    key: (c) => c.req.header("x-rate-key") ?? "shared",
  },
  lifetimes: { refreshGraceMs: Number(env("REFRESH_GRACE_MS", "0")) },
  clock: () => Date.now() + clockOffsetMs,
  // Revocations reach the other instances over the Bus (AS_BUS=0: by the Store recheck alone).
  ...(process.env.AS_BUS === "0" ? {} : { bus }),
  ...(process.env.RECHECK_SECONDS
    ? { revocationRecheckSeconds: Number(process.env.RECHECK_SECONDS) }
    : {}),
});

const app = mcpApp(mcp, {
  path: "/mcp",
  auth,
  sessions: { store, bus },
  eventStore: redisEventStore({ client: redis, prefix }),
  keepAliveMs: 0,
});
app.post("/__test/clock/:ms", (c) => {
  clockOffsetMs += Number(c.req.param("ms"));
  return c.text(String(clockOffsetMs));
});
app.post("/__test/gate/:name", (c) => {
  gate(c.req.param("name")).open();
  return c.text("opened");
});

const listener = getRequestListener(app.fetch);
const server = createServer((request, response) => {
  request.headers.host = publicHost;
  void listener(request, response);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop);
setTimeout(stop, MAX_LIFETIME_MS).unref();

await bus.ready();
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  console.log(`READY ${port}`);
});
