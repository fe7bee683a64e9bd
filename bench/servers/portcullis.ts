// Portcullis: our McpServer + mcpApp. BENCH_MODE=stateless|stateful,
// BENCH_RESPONSE=json|sse (mcpApp's jsonResponse). `sessions` present => stateful.
// BENCH_MAX_SESSIONS raises the live-session bound (default 10,000, LRU-evicted) so the
// idle-session run can hold all of its sessions.
import { z } from "zod";
import { McpServer, mcpApp } from "../../src/index.ts";
import { benchMode, startBenchServer } from "./_common.ts";

const { stateful, json } = benchMode();
const maxSessions = Number(process.env.BENCH_MAX_SESSIONS ?? 0);

const mcp = new McpServer({ name: "bench", version: "1.0.0" });
mcp.tool(
  "echo",
  { description: "Echo", input: z.object({ text: z.string() }) },
  ({ text }) => text,
);

const app = mcpApp(mcp, {
  path: "/mcp",
  jsonResponse: json,
  ...(stateful ? { sessions: maxSessions ? { maxSessions } : {} } : {}),
});

startBenchServer(
  `portcullis-${stateful ? "stateful" : "stateless"}-${json ? "json" : "sse"}`,
  app.fetch,
);
