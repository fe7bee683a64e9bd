/**
 * Our real server behind a tiny Hono wrapper the test steers: it can answer the next requests
 * with a 5xx, hold requests until released (a slow server), be stopped (nothing listens) and
 * restarted on the same port with a fresh McpServer (sessions gone, as after a crash).
 */
import { Hono } from "hono";
import { afterAll } from "vitest";
import { type McpAppOptions, type McpServer, mcpApp } from "../../src/index.ts";
import { type RunningServer, serve } from "../../src/node/index.ts";
import { type Deferred, deferred } from "../helpers/async.ts";

export interface FlakyServer {
  /** The MCP endpoint. */
  url: string;
  /** The JSON-RPC method of every POST that reached the wrapper (GET/DELETE by HTTP method). */
  readonly seen: string[];
  /** Answers the next `count` requests with `status` (default 503). */
  fail(count: number, status?: number): void;
  /** Holds every request from now on until `release()`; resolves `held` with each. */
  hold(): void;
  release(): void;
  /** Resolves once `count` requests are held. */
  holding(count?: number): Promise<void>;
  stop(): Promise<void>;
  /** Listens again on the same port, in front of a fresh server. */
  restart(): Promise<void>;
}

const running = new Set<RunningServer>();
afterAll(async () => {
  await Promise.all([...running].map((server) => server.close()));
});

async function methodOf(request: Request): Promise<string> {
  if (request.method !== "POST") return request.method;
  try {
    const body: unknown = JSON.parse(await request.clone().text());
    const method = (body as { method?: unknown }).method;
    return typeof method === "string" ? method : "(reply)";
  } catch {
    return "(not json)";
  }
}

export async function flakyServer(
  makeServer: () => McpServer,
  options: McpAppOptions = {},
): Promise<FlakyServer> {
  let inner = mcpApp(makeServer(), options);
  const seen: string[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  let gate: Deferred<void> | undefined;
  let held = 0;
  let watchers: { count: number; resolve(): void }[] = [];
  const app = new Hono();
  app.all("*", async (c) => {
    seen.push(await methodOf(c.req.raw));
    if (failures.count > 0) {
      failures.count--;
      return c.text("Service unavailable", failures.status as 503);
    }
    if (gate) {
      const waiting = gate;
      held++;
      watchers = watchers.filter((watcher) => {
        if (held < watcher.count) return true;
        watcher.resolve();
        return false;
      });
      await waiting.promise;
    }
    return inner.fetch(c.req.raw, c.env);
  });
  let server = await serve(app, { port: 0, hostname: "127.0.0.1" });
  running.add(server);
  const port = server.port;
  return {
    url: `${server.url}/mcp`,
    seen,
    fail(count, status = 503) {
      failures = { count, status };
    },
    hold() {
      gate ??= deferred();
    },
    release() {
      gate?.resolve();
      gate = undefined;
    },
    holding(count = 1) {
      return new Promise<void>((resolve) => {
        if (held >= count) resolve();
        else watchers.push({ count, resolve });
      });
    },
    async stop() {
      await server.close();
      running.delete(server);
    },
    async restart() {
      inner = mcpApp(makeServer(), options);
      server = await serve(app, { port, hostname: "127.0.0.1" });
      running.add(server);
    },
  };
}
