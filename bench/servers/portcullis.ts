// Portcullis: our McpServer + mcpApp. BENCH_MODE=stateless|stateful,
// BENCH_RESPONSE=json|sse (mcpApp's jsonResponse). `sessions` present => stateful.
// BENCH_MAX_SESSIONS raises the live-session bound (default 10,000, LRU-evicted) so the
// idle-session run can hold all of its sessions.
// BENCH_AUTH=builtin protects the endpoint with the built-in authorization server (ES256
// tokens, in-memory Store); the runner gets a token for the configured client BENCH_CLIENT
// (client_credentials), so `echo` admits callers without a user.
import { z } from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { BENCH_CLIENT, benchMode, startBenchServer } from "./_common.ts";

const { stateful, json } = benchMode();
const maxSessions = Number(process.env.BENCH_MAX_SESSIONS ?? 0);
const builtIn = process.env.BENCH_AUTH === "builtin";

const mcp = new McpServer({ name: "bench", version: "1.0.0" });
mcp.tool(
  "echo",
  { description: "Echo", input: z.object({ text: z.string() }), userRequired: false },
  ({ text }) => text,
);

const auth = builtIn
  ? authorizationServer({
      store: memoryStore(),
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

startBenchServer(
  `portcullis-${stateful ? "stateful" : "stateless"}-${json ? "json" : "sse"}${auth ? "-bearer" : ""}`,
  app.fetch,
);
