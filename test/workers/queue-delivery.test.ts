/**
 * MCP over real local Cloudflare Queues, in workerd: the test sends request messages through the
 * MCP_REQUESTS producer; miniflare delivers them to the pool Worker's `queue()` consumer
 * (test/workers/queue-main.ts), which serves them with `cloudflareQueues` + `serveQueue` and
 * answers on the real "mcp-answers" queue; that queue's consumer records each answer in the
 * Durable Object store, where the test reads it back. Delivery is awaited by polling the
 * record a bounded number of times, never by a fixed sleep.
 */
import { env } from "cloudflare:workers";
import { importJWK, type JWK, SignJWT } from "jose";
import { describe, expect, it, vi } from "vitest";
import { durableObjectStore } from "../../src/cloudflare/index.ts";
import { QUEUE_AUDIENCE, QUEUE_ISSUER, QUEUE_RECORD, type QueueEnv } from "./queue-main.ts";

const bindings = env as unknown as QueueEnv;
const record = durableObjectStore(bindings.PORTCULLIS_STORE, { name: QUEUE_RECORD });
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** A token signed with the Worker's SIGNING_KEY, which the queue consumer trusts. */
async function token(claims: Record<string, unknown>, audience = QUEUE_AUDIENCE) {
  const jwk = JSON.parse(bindings.SIGNING_KEY ?? "{}") as JWK;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: jwk.kid })
    .setIssuer(QUEUE_ISSUER)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(await importJWK(jwk, "ES256"));
}

/** Sends one tools/call of "note" to the real request queue, as a client would. */
async function send(id: string, tag: string, authorization?: string) {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name: "note", arguments: { tag }, _meta: META },
  });
  const attributes: Record<string, string> = { "mcp-reply-to": "mcp-answers" };
  if (authorization) attributes.authorization = authorization;
  await bindings.MCP_REQUESTS.send({ body, attributes }, { contentType: "json" });
}

/** The answer recorded by the reply queue's consumer, polled (50 × 100 ms at most). */
async function answer(id: string) {
  const recorded = await vi.waitFor(
    async () => {
      const value = await record.get<{ body: string }>(`answer:${JSON.stringify(id)}`);
      if (!value) throw new Error(`no answer to ${id} yet`);
      return value;
    },
    { timeout: 5_000, interval: 100 },
  );
  return JSON.parse(recorded.body) as { id: string; result?: unknown; error?: unknown };
}

describe("cloudflareQueues, delivered by the Queues runtime", () => {
  it("answers on the reply queue, and refuses a protected tool without a valid token", async () => {
    const run = crypto.randomUUID();
    const good = await token({ sub: "alice", scope: "notes:read" });
    const otherAudience = await token({ sub: "mallory", scope: "notes:read" }, "https://other/mcp");
    await send(`${run}-ok`, `${run}-ok`, `Bearer ${good}`);
    await send(`${run}-none`, `${run}-none`);
    await send(`${run}-forged`, `${run}-forged`, "Bearer not.a.jwt");
    await send(`${run}-audience`, `${run}-audience`, `Bearer ${otherAudience}`);

    expect(await answer(`${run}-ok`)).toMatchObject({
      id: `${run}-ok`,
      result: { content: [{ type: "text", text: `noted ${run}-ok for alice` }] },
    });
    expect(await record.get(`ran:${run}-ok`)).toBe("alice");

    for (const refused of ["none", "forged", "audience"]) {
      const id = `${run}-${refused}`;
      expect(await answer(id)).toMatchObject({
        id,
        error: { code: -32600, data: { error: "invalid_token" } },
      });
      // Refused before the tool: it never ran for this message.
      expect(await record.get(`ran:${id}`)).toBeUndefined();
    }
  });
});
