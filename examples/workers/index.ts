// Cloudflare Workers entry: the same demo app as on Node, Bun and Deno, with its state in a
// Durable Object and its secrets from Worker secrets. Only this file is Workers-specific.
import type { Hono } from "hono";
import {
  cachedStore,
  durableObjectStore,
  kvCache,
  McpSessionObject,
  PortcullisStore,
  type PortcullisStoreNamespace,
  routeToSession,
} from "../../src/cloudflare/index.ts";
import { createDemoApp, type DemoAppOptions, demoOptionsFromEnv } from "../demo/server.ts";

export interface DemoEnv {
  /** Codes, tokens, clients, grants and counters (SQLite-backed Durable Object). */
  PORTCULLIS_STORE: PortcullisStoreNamespace;
  /** One Durable Object per stateful MCP session (used when MCP_STATEFUL is "true"). */
  MCP_SESSIONS: DurableObjectNamespace<McpSessions>;
  /** Optional: client metadata documents are cached here instead of in the Durable Object. */
  CACHE?: KVNamespace;
  /** "true": serve 2025-era sessions from MCP_SESSIONS. Default stateless. */
  MCP_STATEFUL?: string;
  /** `wrangler secret put AUTH_SECRET`: at least 32 characters. */
  AUTH_SECRET?: string;
  /** `wrangler secret put SIGNING_KEY`: a private JWK as JSON (or an array, newest first). */
  SIGNING_KEY?: string;
  /** The public URL of the Worker, e.g. https://notes.example.com. Default: each request's origin. */
  ISSUER?: string;
  /** Milliseconds a rotated refresh token may be retried; "0" makes rotation strictly single-use. */
  REFRESH_GRACE_MS?: string;
}

/** What both the Worker and the session objects build on: state and secrets from `env`. */
function demoOptions(env: DemoEnv): DemoAppOptions {
  const strong = durableObjectStore(env.PORTCULLIS_STORE);
  return {
    ...demoOptionsFromEnv(env as unknown as Record<string, unknown>),
    store: env.CACHE ? cachedStore(strong, kvCache(env.CACHE, { prefix: "cache:" })) : strong,
  };
}

// Durable Object classes must be exported by the main module for their bindings to find them.
export { PortcullisStore };

/** Serves one stateful session; its memory holds the session, its streams and their events. */
export class McpSessions extends McpSessionObject<DemoEnv> {
  protected app(env: DemoEnv): Hono {
    return createDemoApp({ ...demoOptions(env), sessions: true });
  }
}

// Bindings only exist once a request arrives, and workerd forbids random values at global
// scope (which building the app needs): the app is built on the first request, once per isolate.
let app: Hono | undefined;

export default {
  async fetch(request: Request, env: DemoEnv, ctx: ExecutionContext): Promise<Response> {
    if (env.MCP_STATEFUL === "true") {
      const routed = await routeToSession(request, env.MCP_SESSIONS);
      if (routed) return routed;
    }
    // One isolate does not see every request of a client, so sessions kept in isolate memory
    // would be lost between requests: the Worker itself is stateless.
    app ??= createDemoApp({ ...demoOptions(env), sessions: false });
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<DemoEnv>;
