/**
 * MCP over Redis Streams with three server processes in one consumer group: every call gets
 * exactly one answer and no handler runs twice for one request id, even when a consumer is
 * killed mid-run; poison messages reach the dead letter; a cancellation reaches the handler on
 * whichever process runs it; tokens are checked as on HTTP.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { McpClient, McpError } from "../../src/client/index.ts";
import { AUTHORIZATION, queueTransport, REPLY_TO } from "../../src/queue/index.ts";
import { type RedisClient, redisStreams } from "../../src/redis/index.ts";
import { eventually } from "../helpers/async.ts";
import { AUDIENCE, type JwtIssuer, startJwtIssuer } from "../helpers/jwt.ts";
import {
  closeClients,
  describeRedis,
  type Instance,
  client as redisClient,
  startConsumer,
  stopInstances,
  uniquePrefix,
} from "./support.ts";

type Json = Record<string, unknown>;
const VERSION = "2026-07-28";
const META = {
  "io.modelcontextprotocol/protocolVersion": VERSION,
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

describeRedis("MCP over Redis Streams, three consumer processes", (url) => {
  const prefix = uniquePrefix("queue");
  const requests = `${prefix}requests`;
  let redis: RedisClient;
  let issuer: JwtIssuer;
  let token = "";
  let nodes: Instance[] = [];
  const clients: McpClient[] = [];

  beforeAll(async () => {
    redis = redisClient(url);
    issuer = await startJwtIssuer();
    token = await issuer.sign({ sub: "alice", client_id: "agent", scope: "work" });
    const env = {
      REDIS_URL: url,
      PREFIX: prefix,
      ISSUER: issuer.issuer,
      AUDIENCE,
      CLAIM_IDLE_MS: "300",
      LEASE_MS: "600",
      HEARTBEAT_MS: "100",
    };
    nodes = await Promise.all(["#1", "#2", "#3"].map((name) => startConsumer(name, env)));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopInstances(nodes);
    await closeClients();
  });

  const streams = () => redisStreams({ client: redis });

  async function connect(name: string, bearer: string | undefined): Promise<McpClient> {
    const queue = streams();
    const replyTo = `${prefix}replies:${name}`;
    const client = new McpClient({
      name,
      version: "1.0.0",
      protocolVersion: VERSION,
      requestTimeoutMs: 60_000,
    });
    await client.connect(
      queueTransport({
        send: (message) => queue.send(requests, message),
        receive: queue.read(replyTo),
        replyTo,
        ...(bearer ? { token: bearer } : {}),
      }),
    );
    clients.push(client);
    return client;
  }

  /** Sends one raw message and waits for the answer with its id on `replyTo`. */
  async function raw(replyTo: string, body: Json | string, attributes: Json = {}) {
    await streams().send(requests, {
      body: typeof body === "string" ? body : JSON.stringify(body),
      attributes: { [REPLY_TO]: replyTo, ...(attributes as Record<string, string>) },
    });
  }

  async function replies(replyTo: string): Promise<Json[]> {
    const entries = (await redis.xrange(replyTo, "-", "+")) as [string, string[]][];
    return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf("body") + 1]!) as Json);
  }

  const call = (id: string, name: string, args: Json) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args, _meta: META },
  });

  it("refuses a protected tool without a valid token, with a JSON-RPC error", async () => {
    const replyTo = `${prefix}replies:raw-auth`;
    const other = await issuer.sign({ sub: "alice", scope: "work" }, "https://other.test/mcp");
    const noScope = await issuer.sign({ sub: "alice", client_id: "agent", scope: "" });
    await raw(replyTo, call("none", "work", { n: 1 }));
    await raw(replyTo, call("forged", "work", { n: 1 }), { [AUTHORIZATION]: "Bearer abc.def.ghi" });
    await raw(replyTo, call("other", "work", { n: 1 }), { [AUTHORIZATION]: `Bearer ${other}` });
    await raw(replyTo, call("scope", "work", { n: 1 }), { [AUTHORIZATION]: `Bearer ${noScope}` });
    await raw(replyTo, call("ok", "work", { n: 1 }), { [AUTHORIZATION]: `Bearer ${token}` });
    const answers = await eventually(
      () => replies(replyTo),
      (found) => new Set(found.map((a) => a.id)).size >= 5,
    );
    const byId = new Map(answers.map((a) => [a.id, a]));
    for (const id of ["none", "forged", "other"]) {
      const error = byId.get(id)?.error as Json;
      expect(error.code, id).toBe(-32600);
      expect((error.data as Json).error, id).toBe("invalid_token");
      expect((error.data as Json).status, id).toBe(401);
      expect(JSON.stringify(error)).not.toMatch(/\bat .*\.ts/);
    }
    const scope = byId.get("scope")?.error as Json;
    expect(scope.code).toBe(-32600);
    expect((scope.data as Json).error).toBe("insufficient_scope");
    expect((byId.get("ok")!.result as Json).content).toEqual([
      { type: "text", text: expect.stringMatching(/^done 1 by #\d$/) },
    ]);
    // The refused ones never ran.
    const runs = await redis.hgetall(`${prefix}runs`);
    expect(Object.keys(runs).filter((id) => id !== "ok")).toEqual([]);
  });

  it("sends unreadable and undeliverable messages to the dead letter", async () => {
    const replyTo = `${prefix}replies:raw-poison`;
    await raw(replyTo, "{not json");
    // A reply address that is no stream: every answer fails, until the attempts run out.
    const broken = `${prefix}not-a-stream`;
    await redis.set(broken, "a string");
    await raw(broken, call("stuck", "work", { n: 2 }), { [AUTHORIZATION]: `Bearer ${token}` });
    const reasonsOf = (entries: [string, string[]][]) =>
      entries.map(([, fields]) => fields[fields.indexOf("reason") + 1]);
    const dead = await eventually(
      async () => (await redis.xrange(`${prefix}dead`, "-", "+")) as [string, string[]][],
      (found) => reasonsOf(found).includes("delivered 11 times"),
    );
    expect(reasonsOf(dead)).toContain("the body is not JSON");
    const parse = (await replies(replyTo))[0]!;
    expect((parse.error as Json).code).toBe(-32700);
    // The undeliverable request ran once, whatever the redeliveries.
    expect(await redis.hget(`${prefix}runs`, "stuck")).toBe("1");
  }, 30_000);

  it("takes a cancellation to the handler on whichever process runs it", async () => {
    const client = await connect("canceller", token);
    for (const key of ["c1", "c2", "c3"]) {
      const stop = new AbortController();
      const pending = client.callTool("wait", { key }, { signal: stop.signal });
      const settled = pending.then(
        () => "answered",
        (error: unknown) => error,
      );
      await eventually(
        () => redis.lrange(`${prefix}events`, 0, -1),
        (events) => events.includes(`started ${key}`),
      );
      stop.abort();
      expect(await settled).not.toBe("answered");
      const events = await eventually(
        () => redis.lrange(`${prefix}events`, 0, -1),
        (found) => found.some((e) => e.startsWith(`aborted ${key} `)),
      );
      expect(events.filter((e) => e.startsWith(`aborted ${key} `))).toHaveLength(1);
    }
  });

  it("answers 1,000 calls exactly once each with a consumer killed midway", async () => {
    const client = await connect("bulk", token);
    let answered = 0;
    let killed = false;
    let pendingAtKill: Promise<unknown> | undefined;
    const outcomes = await Promise.all(
      Array.from({ length: 1000 }, (_, n) =>
        client.callTool("work", { n }, { timeoutMs: 60_000 }).then(
          (result) => {
            if (++answered === 300 && !killed) {
              killed = true;
              nodes[1]!.process.kill("SIGKILL");
              // What the killed consumer held: others must claim these.
              pendingAtKill = redis.xpending(requests, "mcp", "-", "+", 1000, "#2");
            }
            return { n, text: (result.content[0] as { text: string }).text };
          },
          (error: unknown) => ({ n, error }),
        ),
      ),
    );
    expect(killed).toBe(true);
    const held = ((await pendingAtKill) as unknown[]).length;
    expect(held).toBeGreaterThan(0);
    const answers = outcomes.filter((o) => "text" in o);
    const interrupted = outcomes.filter((o) => "error" in o);
    for (const o of answers) expect((o as { text: string }).text).toMatch(/^done (\d+) by #\d$/);
    for (const o of answers) expect((o as { text: string }).text.split(" ")[1]).toBe(String(o.n));
    // A call the killed consumer was running is not run again (the tool is not idempotent):
    // it is answered with an error saying so.
    for (const o of interrupted) {
      const error = (o as { error: unknown }).error;
      expect(error).toBeInstanceOf(McpError);
      expect((error as McpError).data).toEqual({ error: "interrupted" });
    }
    expect(answers.length + interrupted.length).toBe(1000);
    expect(answers.length).toBeGreaterThan(900);
    // No handler ran twice for one request id.
    const runs = Object.values(await redis.hgetall(`${prefix}runs`));
    expect(runs.filter((count) => count !== "1")).toEqual([]);
    // Redelivered answers are the recorded one: every id's replies on the wire agree.
    const byId = new Map<unknown, string>();
    for (const reply of await replies(`${prefix}replies:bulk`)) {
      if (!("id" in reply)) continue;
      const text = JSON.stringify(reply);
      expect(byId.get(reply.id) ?? text).toBe(text);
      byId.set(reply.id, text);
    }
    console.log(
      `queue: 1000 calls, ${answers.length} answered, ${interrupted.length} interrupted by the kill, ${held} entries pending on the killed consumer, ${byId.size} distinct answers on the wire`,
    );
  }, 60_000);
});
