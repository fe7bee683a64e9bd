// The Portcullis app the bench measures, built once here so the wrk server (portcullis.ts)
// and the in-process measurement (bench/cpu.ts) run the very same configuration: one `echo`
// tool, mcpApp at /mcp, optionally sessions and the built-in authorization server.
import type { Hono } from "hono";
import { z } from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { BENCH_CLIENT } from "./_common.ts";

export interface PortcullisBenchOptions {
  stateful: boolean;
  json: boolean;
  /** Protect /mcp with the built-in authorization server (ES256, in-memory Store). */
  builtIn: boolean;
  /** Raises the live-session bound (0 = the default). */
  maxSessions?: number;
  /** The authorization server's issuer; default: from each request (the server's own URL). */
  issuer?: string;
}

export function portcullisApp(options: PortcullisBenchOptions): { app: Hono; name: string } {
  const { stateful, json, builtIn, maxSessions = 0, issuer } = options;
  const mcp = new McpServer({ name: "bench", version: "1.0.0" });
  mcp.tool(
    "echo",
    { description: "Echo", input: z.object({ text: z.string() }), userRequired: false },
    ({ text }) => text,
  );

  const auth = builtIn
    ? authorizationServer({
        store: memoryStore(),
        ...(issuer ? { issuer } : {}),
        login: devLogin(),
        rateLimits: false,
        clients: [
          {
            client_id: BENCH_CLIENT.id,
            client_secret: BENCH_CLIENT.secret,
            grant_types: ["client_credentials"],
            redirect_uris: [],
          },
        ],
      })
    : undefined;

  const app = mcpApp(mcp, {
    path: "/mcp",
    jsonResponse: json,
    ...(stateful ? { sessions: maxSessions ? { maxSessions } : {} } : {}),
    ...(auth ? { auth } : {}),
  });
  const name = `portcullis-${stateful ? "stateful" : "stateless"}-${json ? "json" : "sse"}${auth ? "-bearer" : ""}`;
  return { app, name };
}
