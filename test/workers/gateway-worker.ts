/**
 * The gateway as a Worker, for test/workers/gateway.test.ts: `gateway()` in front of the MCP
 * server Worker "mcp-upstream" (test/workers/upstream-worker.ts), reached through the UPSTREAM
 * service binding, with the built-in authorization server keeping its state in the
 * PORTCULLIS_STORE Durable Object (its own instance, "gateway").
 *
 * Two upstreams on the one server Worker: "notes" (shared, `delete_note` needs notes:delete)
 * and "mine" (one connection per token subject, which reaches the upstream as X-Subject).
 *
 * Served two ways, both exported by the pool's main module (test/workers/queue-main.ts):
 * - GatewayWorker, a named entrypoint (`exports.GatewayWorker.fetch(...)` in the test): the
 *   gateway in the Worker's isolate. Forwarded calls work; an upstream's question to the caller
 *   does not, since it spans two requests and workerd binds I/O objects (the upstream client's
 *   signals) to the request that made them.
 * - GatewayObject, a Durable Object: one object holds the gateway, and an object's requests
 *   share one I/O context, so the upstream's questions (and 2025 sessions) work there.
 */
import { DurableObject, WorkerEntrypoint } from "cloudflare:workers";
import type { DemoEnv } from "../../examples/workers/index.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { durableObjectStore } from "../../src/cloudflare/index.ts";
import { type Gateway, gateway } from "../../src/gateway/index.ts";

export interface GatewayEnv extends DemoEnv {
  /** The upstream MCP server Worker (a service binding). */
  UPSTREAM: Fetcher;
  /** The gateway in a Durable Object (GatewayObject). */
  GATEWAY_OBJECT: DurableObjectNamespace<GatewayObject>;
}

/** The upstream's URL: only its path matters, the service binding decides where it goes. */
export const UPSTREAM_URL = "https://mcp-upstream.internal/mcp";

function start(env: GatewayEnv): Promise<Gateway> {
  const upstream = {
    url: UPSTREAM_URL,
    fetch: ((input, init) => env.UPSTREAM.fetch(input, init)) as typeof fetch,
  };
  return gateway({
    upstreams: [
      { name: "notes", ...upstream, scopes: { delete_note: ["notes:delete"] } },
      { name: "mine", ...upstream, isolation: "per-user", identityHeader: "x-subject" },
    ],
    auth: authorizationServer({
      store: durableObjectStore(env.PORTCULLIS_STORE, { name: "gateway" }),
      login: devLogin(),
      ...(env.ISSUER && { issuer: env.ISSUER }),
      ...(env.AUTH_SECRET && { secret: env.AUTH_SECRET }),
    }),
  });
}

// gateway() is async (it lists each upstream's tools before it serves), and bindings exist
// only once a request arrives: the first request of an isolate starts it, later ones wait for
// the same promise. A failed start is forgotten, so the next request tries again.
let started: Promise<Gateway> | undefined;

export class GatewayWorker extends WorkerEntrypoint<GatewayEnv> {
  override async fetch(request: Request): Promise<Response> {
    started ??= start(this.env).catch((error: unknown) => {
      started = undefined;
      throw error;
    });
    const { app } = await started;
    return app.fetch(request, this.env, this.ctx);
  }
}

/** The gateway in a Durable Object: every request of the gateway goes to one object. */
export class GatewayObject extends DurableObject<GatewayEnv> {
  #started: Promise<Gateway> | undefined;

  override async fetch(request: Request): Promise<Response> {
    this.#started ??= start(this.env).catch((error: unknown) => {
      this.#started = undefined;
      throw error;
    });
    const { app } = await this.#started;
    return app.fetch(request, this.env, this.ctx);
  }
}
