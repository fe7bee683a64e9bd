/**
 * serveQueue's rules on a real Redis stream, in one process with a clock the test moves:
 * duplicates answered from the record, leases taken over (rerun only when the tool says it is
 * safe), progress to the reply address, hostile messages changing nothing.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { McpClient } from "../../src/client/index.ts";
import { ErrorCode, McpServer, rateLimit } from "../../src/index.ts";
import { type QueueServer, queueTransport, REPLY_TO, serveQueue } from "../../src/queue/index.ts";
import { type RedisClient, redisStore, redisStreams } from "../../src/redis/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { silentLogger } from "../../src/util/log.ts";
import { deferred, eventually } from "../helpers/async.ts";
import { manualClock } from "../helpers/clock.ts";
import { closeClients, describeRedis, client as redisClient, uniquePrefix } from "./support.ts";

type Json = Record<string, unknown>;
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

describeRedis("serveQueue on Redis Streams", (url) => {
  let redis: RedisClient;
  const servers: QueueServer[] = [];
  const clients: McpClient[] = [];

  beforeAll(() => {
    redis = redisClient(url);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  afterAll(closeClients);

  /** A server whose tools count their runs; `gate` holds "slow" until the test opens it. */
  function deployment(prefix: string, setup?: (mcp: McpServer) => void) {
    const runs = new Map<string, number>();
    const gate = deferred();
    const mcp = new McpServer({ name: "q", version: "1.0.0" });
    setup?.(mcp);
    const count = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1);
    mcp.tool("once", { input: z.object({ k: z.string() }) }, ({ k }) => {
      count(k);
      return `once ${k}`;
    });
    mcp.tool("slow", { input: z.object({ k: z.string() }) }, async ({ k }, ctx) => {
      count(k);
      await ctx.progress(1, 2, "started");
      await gate.promise;
      return `slow ${k}`;
    });
    mcp.tool(
      "safe",
      { input: z.object({ k: z.string() }), annotations: { idempotentHint: true } },
      async ({ k }) => {
        count(k);
        await gate.promise;
        return `safe ${k}`;
      },
    );
    const streams = redisStreams({ client: redis });
    const start = (consumer: string, clock = manualClock(1_000_000)) => {
      const server = serveQueue(mcp, {
        receive: streams.consume({
          stream: `${prefix}requests`,
          group: "g",
          consumer,
          blockMs: 50,
          claimIdleMs: 50,
        }),
        send: streams.send,
        deadLetter: streams.deadLetter(`${prefix}dead`),
        store: redisStore({ client: redis, prefix }),
        leaseMs: 60_000,
        heartbeatMs: 20,
        clock: clock.now,
      });
      servers.push(server);
      return { server, clock };
    };
    const send = (body: Json | string, attributes: Record<string, string>) =>
      streams.send(`${prefix}requests`, {
        body: typeof body === "string" ? body : JSON.stringify(body),
        attributes,
      });
    const replies = async (stream: string) =>
      ((await redis.xrange(stream, "-", "+")) as [string, string[]][]).map(
        ([, f]) => JSON.parse(f[f.indexOf("body") + 1]!) as Json,
      );
    return { runs, gate, start, send, replies, streams };
  }

  const call = (id: string, name: string, k: string) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: { k }, _meta: META },
  });

  it("answers a duplicate from the record and runs the handler once", async () => {
    const prefix = uniquePrefix("queue-dup");
    const d = deployment(prefix);
    d.start("a");
    const replyTo = `${prefix}replies`;
    await d.send(call("r1", "once", "x"), { [REPLY_TO]: replyTo });
    // At least once: a slow acknowledgement may already bring a redelivery; count from here.
    const before = await eventually(
      () => d.replies(replyTo),
      (r) => r.length >= 1,
    );
    await d.send(call("r1", "once", "x"), { [REPLY_TO]: replyTo });
    const replies = await eventually(
      () => d.replies(replyTo),
      (r) => r.length > before.length,
    );
    for (const reply of replies) expect(reply).toEqual(replies[0]);
    expect((replies[0]!.result as Json).content).toEqual([{ type: "text", text: "once x" }]);
    expect(d.runs.get("x")).toBe(1);
    // Another reply address is another caller: its id 1 is its own request.
    await d.send(call("r1", "once", "x"), { [REPLY_TO]: `${replyTo}:other` });
    await eventually(
      () => d.replies(`${replyTo}:other`),
      (r) => r.length === 1,
    );
    expect(d.runs.get("x")).toBe(2);
  });

  it("takes over a request whose runner stopped: reruns an idempotent tool, refuses to rerun others", async () => {
    const prefix = uniquePrefix("queue-lease");
    const d = deployment(prefix);
    const first = d.start("a");
    const replyTo = `${prefix}replies`;
    await d.send(call("s1", "slow", "slow-1"), { [REPLY_TO]: replyTo });
    await d.send(call("i1", "safe", "safe-1"), { [REPLY_TO]: replyTo });
    await eventually(
      async () => d.runs.size,
      (n) => n === 2,
    );
    // The runner stops without answering (its handlers end as it stops); its claims stay,
    // leased until its clock's now + 60 s.
    const closing = first.server.close();
    d.gate.resolve();
    await closing;
    expect(await d.replies(replyTo)).toEqual([]);
    // Another consumer, once the lease has run out by its clock.
    d.start("b", manualClock(1_000_000 + 60_001));
    const replies = await eventually(
      () => d.replies(replyTo),
      (r) => r.length === 2,
    );
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect((byId.get("s1")!.error as Json).data).toEqual({ error: "interrupted" });
    expect((byId.get("i1")!.result as Json).content).toEqual([
      { type: "text", text: "safe safe-1" },
    ]);
    expect(d.runs.get("slow-1")).toBe(1);
    expect(d.runs.get("safe-1")).toBe(2);
  });

  it("carries progress to the reply address and ignores hostile messages", async () => {
    const prefix = uniquePrefix("queue-client");
    const d = deployment(prefix);
    d.start("a");
    d.gate.resolve();
    const replyTo = `${prefix}replies:client`;
    const client = new McpClient({ name: "c", version: "1.0.0", protocolVersion: "2026-07-28" });
    await client.connect(
      queueTransport({
        send: (m) => d.streams.send(`${prefix}requests`, m),
        receive: d.streams.read(replyTo),
        replyTo,
      }),
    );
    clients.push(client);
    const progress: string[] = [];
    const result = await client.callTool(
      "slow",
      { k: "p" },
      { onProgress: (p) => progress.push(p.message ?? "") },
    );
    expect(result.content).toEqual([{ type: "text", text: "slow p" }]);
    expect(progress).toEqual(["started"]);

    // No reply address: nobody to answer, so the dead letter. A 2025 request: refused.
    await d.send(call("h1", "once", "h1"), {});
    await d.send({ jsonrpc: "2.0", id: "h2", method: "tools/list" }, { [REPLY_TO]: replyTo });
    await d.send({ jsonrpc: "2.0", id: 7 }, { [REPLY_TO]: replyTo });
    const dead = await eventually(
      async () => (await redis.xrange(`${prefix}dead`, "-", "+")) as [string, string[]][],
      (found) => found.length === 1,
    );
    expect(dead[0]![1][dead[0]![1].indexOf("reason") + 1]).toBe(`no ${REPLY_TO} attribute`);
    const refused = await eventually(
      () => d.replies(replyTo),
      (r) => r.some((m) => m.id === "h2"),
    );
    expect((refused.find((m) => m.id === "h2")!.error as Json).code).toBe(-32600);
    expect(d.runs.has("h1")).toBe(false);
  });

  it("runs the middleware pipeline: a rate limit refuses over the queue as over HTTP", async () => {
    const prefix = uniquePrefix("queue-limit");
    const seen: string[] = [];
    const d = deployment(prefix, (mcp) => {
      mcp.use(async (ctx, next) => {
        seen.push(ctx.method);
        return next();
      });
      mcp.use(
        rateLimit({
          store: memoryStore(),
          perTool: { once: { limit: 1, windowSeconds: 60 } },
          key: () => "everyone",
          logger: silentLogger,
        }),
      );
    });
    d.start("a");
    const replyTo = `${prefix}replies`;
    await d.send(call("l1", "once", "l1"), { [REPLY_TO]: replyTo });
    await d.send(call("l2", "once", "l2"), { [REPLY_TO]: replyTo });
    const replies = await eventually(
      () => d.replies(replyTo),
      (r) => r.length === 2,
    );
    // The consumer takes both from one read and runs them concurrently: either may be first.
    const answered = replies.filter((r) => r.result !== undefined);
    const limited = replies.filter((r) => r.error !== undefined);
    expect(answered).toHaveLength(1);
    expect(limited).toHaveLength(1);
    const winner = answered[0]!.id as string;
    expect((answered[0]!.result as Json).content).toEqual([
      { type: "text", text: `once ${winner}` },
    ]);
    expect((limited[0]!.error as Json).code).toBe(ErrorCode.RateLimited);
    expect(d.runs.has(limited[0]!.id as string)).toBe(false);
    expect(seen).toEqual(["tools/call", "tools/call"]);
  });
});
