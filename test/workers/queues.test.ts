/**
 * MCP over Cloudflare Queues, in workerd: request batches as the Queues runtime builds them
 * (createMessageBatch) go to the consumer handler; answers go to a real local Queue (producer
 * binding) or to a mailbox in the Durable Object store; acks and retries are read back from
 * the runtime (getQueueResult). Tokens are checked as on HTTP.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { DemoEnv } from "../../examples/workers/index.ts";
import { cloudflareQueues, durableObjectStore } from "../../src/cloudflare/index.ts";
import { authInfoFromClaims, McpServer, type TokenVerifier } from "../../src/index.ts";
import { serveQueue } from "../../src/queue/index.ts";

const bindings = env as unknown as DemoEnv & { MCP_REPLIES: Queue; MCP_DEAD: Queue };
const ISSUER = "https://issuer.queues.test";
const AUDIENCE = "https://mcp.queues.test/mcp";
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};
type Json = Record<string, unknown>;
let instance = 0;

/** An issuer of this test's own: a key pair, and a verifier that trusts only it. */
async function issuer() {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = await importJWK(await exportJWK(publicKey), "ES256");
  const verify: TokenVerifier = async (token, audience) => {
    try {
      const { payload } = await jwtVerify(token, publicJwk, { issuer: ISSUER, audience });
      return authInfoFromClaims(payload);
    } catch {
      return undefined; // not valid here: a 401, as on HTTP
    }
  };
  const sign = (claims: Json, audience = AUDIENCE) =>
    new SignJWT({ scope: "", ...claims })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
  return { verify, sign };
}

async function setup() {
  const { verify, sign } = await issuer();
  const mcp = new McpServer({ name: "cf-queues", version: "1.0.0" });
  const runs: string[] = [];
  mcp.tool(
    "whoami",
    { scopes: ["notes:read"], annotations: { readOnlyHint: true } },
    (_args, ctx) => {
      runs.push("whoami");
      return `you are ${ctx.auth?.subject}`;
    },
  );
  mcp.tool("echo", { input: z.object({ text: z.string() }), userRequired: false }, ({ text }) => {
    runs.push(`echo ${text}`);
    return text;
  });
  const name = `queues-${Date.now()}-${instance++}`;
  const store = durableObjectStore(bindings.PORTCULLIS_STORE, { name });
  const queues = cloudflareQueues({
    queues: { "mcp-replies": bindings.MCP_REPLIES, "mcp-dead": bindings.MCP_DEAD },
    deadLetter: "mcp-dead",
    mailbox: store,
  });
  const server = serveQueue(mcp, {
    send: queues.send,
    deadLetter: queues.deadLetter,
    store,
    auth: { issuer: ISSUER, verify },
    audience: AUDIENCE,
  });
  const consume = queues.consumer(server);
  /** Hands one batch to the consumer as the runtime would, and reads back acks and retries. */
  const deliver = async (messages: Array<{ id: string; body: unknown; attempts?: number }>) => {
    const batch = createMessageBatch(
      "mcp-requests",
      messages.map((message) => ({
        id: message.id,
        timestamp: new Date(),
        attempts: message.attempts ?? 1,
        body: message.body,
      })),
    );
    const ctx = createExecutionContext();
    await consume(batch);
    return getQueueResult(batch, ctx);
  };
  return { queues, deliver, runs, sign, server };
}

const call = (id: number, name: string, args: Json = {}) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args, _meta: META },
  });

const envelope = (body: string, attributes: Record<string, string>) => ({ body, attributes });

describe("cloudflareQueues", () => {
  it("answers a batch into the mailbox, acks every message, and runs each request once", async () => {
    const { queues, deliver, runs, sign, server } = await setup();
    const token = await sign({ sub: "alice", scope: "notes:read" });
    const attributes = { "mcp-reply-to": "mailbox:alice", authorization: `Bearer ${token}` };
    const result = await deliver([
      { id: "m1", body: envelope(call(1, "whoami"), attributes) },
      { id: "m2", body: envelope(call(2, "echo", { text: "hi" }), attributes) },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    const replies = (await queues.take("alice")).map((reply) => JSON.parse(reply.body) as Json);
    const byId = new Map(replies.map((reply) => [reply.id, reply]));
    expect(byId.get(1)).toMatchObject({ result: { content: [{ text: "you are alice" }] } });
    expect(byId.get(2)).toMatchObject({ result: { content: [{ text: "hi" }] } });
    // Taken means gone.
    expect(await queues.take("alice")).toEqual([]);

    // The same message delivered again (at least once): the recorded answer, no second run.
    const again = await deliver([
      { id: "m1", body: envelope(call(1, "whoami"), attributes), attempts: 2 },
    ]);
    expect(again.explicitAcks).toEqual(["m1"]);
    expect((await queues.take("alice")).map((reply) => JSON.parse(reply.body))).toEqual([
      byId.get(1),
    ]);
    // One run each: the batch's messages run concurrently, in no set order.
    expect(runs.toSorted()).toEqual(["echo hi", "whoami"]);
    await server.close();
  });

  it("refuses a protected tool without a valid token, and runs nothing", async () => {
    const { queues, deliver, runs, sign, server } = await setup();
    const reply = { "mcp-reply-to": "mailbox:mallory" };
    const wrongAudience = await sign({ sub: "mallory", scope: "notes:read" }, "https://other/mcp");
    const noScope = await sign({ sub: "mallory", scope: "" });
    const result = await deliver([
      { id: "none", body: envelope(call(1, "whoami"), reply) },
      {
        id: "forged",
        body: envelope(call(2, "whoami"), { ...reply, authorization: "Bearer not.a.jwt" }),
      },
      {
        id: "audience",
        body: envelope(call(3, "whoami"), { ...reply, authorization: `Bearer ${wrongAudience}` }),
      },
      {
        id: "scope",
        body: envelope(call(4, "whoami"), { ...reply, authorization: `Bearer ${noScope}` }),
      },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["audience", "forged", "none", "scope"]);
    const errors = new Map(
      (await queues.take("mallory")).map((message) => {
        const parsed = JSON.parse(message.body) as { id: number; error: Json };
        return [parsed.id, parsed.error];
      }),
    );
    for (const id of [1, 2, 3]) {
      expect(errors.get(id)).toMatchObject({ code: -32600, data: { error: "invalid_token" } });
    }
    expect(errors.get(4)).toMatchObject({ code: -32600, data: { error: "insufficient_scope" } });
    expect(runs).toEqual([]);
    await server.close();
  });

  it("answers to a reply queue, and dead-letters what it cannot read or address", async () => {
    const { deliver, runs, sign, server } = await setup();
    const token = await sign({ sub: "bob", scope: "notes:read" });
    const result = await deliver([
      {
        id: "to-queue",
        body: envelope(call(1, "echo", { text: "over the queue" }), {
          "mcp-reply-to": "mcp-replies",
          authorization: `Bearer ${token}`,
        }),
      },
      { id: "not-an-envelope", body: "plain text" },
      { id: "no-reply-to", body: envelope(call(2, "echo", { text: "x" }), {}) },
      { id: "too-often", body: envelope(call(3, "echo", { text: "y" }), {}), attempts: 6 },
    ]);
    // Sent to the real local reply queue, and dead letters to the dead-letter queue: all acked.
    expect(result.explicitAcks.sort()).toEqual([
      "no-reply-to",
      "not-an-envelope",
      "to-queue",
      "too-often",
    ]);
    expect(result.retryMessages).toEqual([]);
    expect(runs).toEqual(["echo over the queue"]);
    await server.close();
  });

  it("retries a message whose reply address has no binding, until it is dead-lettered", async () => {
    const { deliver, sign, server } = await setup();
    const token = await sign({ sub: "carol", scope: "notes:read" });
    const body = envelope(call(1, "echo", { text: "lost" }), {
      "mcp-reply-to": "nowhere",
      authorization: `Bearer ${token}`,
    });
    const first = await deliver([{ id: "m", body }]);
    expect(first.retryMessages).toEqual([{ msgId: "m" }]);
    expect(first.explicitAcks).toEqual([]);
    const last = await deliver([{ id: "m", body, attempts: 6 }]);
    expect(last.explicitAcks).toEqual(["m"]);
    await server.close();
  });

  it("refuses a configuration that names what it does not have", () => {
    expect(() => cloudflareQueues({ queues: { q: {} as Queue } })).toThrow(/not a Queue binding/);
    expect(() =>
      cloudflareQueues({ queues: { q: bindings.MCP_REPLIES }, deadLetter: "dead" }),
    ).toThrow(/deadLetter/);
    expect(() => cloudflareQueues({ mailboxTtlMs: 0 })).toThrow(/mailboxTtlMs/);
  });
});
