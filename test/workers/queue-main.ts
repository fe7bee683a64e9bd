/**
 * The Workers pool's main module for the tests: the demo Worker unchanged (fetch and its Durable
 * Objects), plus `queue()` consumers for test/workers/queue-delivery.test.ts and the gateway
 * Worker of test/workers/gateway.test.ts as a named entrypoint. The demo itself (wrangler.toml)
 * stays without queues, so deploying it needs none.
 *
 * - "mcp-requests": MCP requests, served by `cloudflareQueues` + `serveQueue`, with tokens
 *   checked against the public half of the SIGNING_KEY secret (the test signs with it).
 * - "mcp-answers": the reply queue; each answer is recorded in the Durable Object store under
 *   `answer:<JSON-RPC id>` so the test can read it back.
 */
import { importJWK, type JWK, jwtVerify } from "jose";
import { z } from "zod";
import demo, { type DemoEnv, McpSessions, PortcullisStore } from "../../examples/workers/index.ts";
import {
  cloudflareQueues,
  durableObjectStore,
  type QueueBatchHandler,
} from "../../src/cloudflare/index.ts";
import { authInfoFromClaims, McpServer, type Store, type TokenVerifier } from "../../src/index.ts";
import { serveQueue } from "../../src/queue/index.ts";

// The gateway as a Worker (test/workers/gateway.test.ts), a named entrypoint of this module.
export { GatewayObject, GatewayWorker } from "./gateway-worker.ts";
export { McpSessions, PortcullisStore };

export const QUEUE_ISSUER = "https://issuer.queue-delivery.test";
export const QUEUE_AUDIENCE = "https://mcp.queue-delivery.test/mcp";
/** The Durable Object store instance both consumers record into. */
export const QUEUE_RECORD = "queue-delivery";

export interface QueueEnv extends DemoEnv {
  MCP_REQUESTS: Queue;
  MCP_ANSWERS: Queue;
  MCP_DEAD: Queue;
}

function verifier(env: QueueEnv): TokenVerifier {
  const { d: _private, ...publicJwk } = JSON.parse(env.SIGNING_KEY ?? "{}") as JWK;
  const key = importJWK(publicJwk, "ES256");
  return async (token, audience) => {
    try {
      const { payload } = await jwtVerify(token, await key, { issuer: QUEUE_ISSUER, audience });
      return authInfoFromClaims(payload);
    } catch {
      return undefined; // refused as on HTTP: invalid_token
    }
  };
}

function build(env: QueueEnv, record: Store): QueueBatchHandler {
  const mcp = new McpServer({ name: "queue-delivery", version: "1.0.0" });
  mcp.tool(
    "note",
    { input: z.object({ tag: z.string() }), scopes: ["notes:read"] },
    async ({ tag }, ctx) => {
      // Recorded so the test can tell whether the tool ran at all.
      await record.set(`ran:${tag}`, ctx.auth?.subject ?? "");
      return `noted ${tag} for ${ctx.auth?.subject}`;
    },
  );
  const queues = cloudflareQueues({
    queues: { "mcp-answers": env.MCP_ANSWERS, "mcp-dead": env.MCP_DEAD },
    deadLetter: "mcp-dead",
  });
  const server = serveQueue(mcp, {
    send: queues.send,
    deadLetter: queues.deadLetter,
    store: record,
    auth: { issuer: QUEUE_ISSUER, verify: verifier(env) },
    audience: QUEUE_AUDIENCE,
  });
  return queues.consumer(server);
}

// Built on the first batch (bindings exist only then), once per isolate.
let consume: QueueBatchHandler | undefined;

export default {
  fetch: demo.fetch,
  async queue(batch: MessageBatch<unknown>, env: QueueEnv): Promise<void> {
    const record = durableObjectStore(env.PORTCULLIS_STORE, { name: QUEUE_RECORD });
    if (batch.queue === "mcp-requests") {
      consume ??= build(env, record);
      await consume(batch);
      return;
    }
    if (batch.queue === "mcp-answers") {
      for (const message of batch.messages) {
        const { body } = message.body as { body: string };
        const { id } = JSON.parse(body) as { id: unknown };
        await record.set(`answer:${JSON.stringify(id)}`, message.body as Record<string, string>);
        message.ack();
      }
    }
  },
} satisfies ExportedHandler<QueueEnv>;
