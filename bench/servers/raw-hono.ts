// Baseline: a plain Hono route that parses the JSON-RPC body and returns a fixed
// tools/call result (echoing only the request id). No MCP machinery at all.
import { startBenchServer } from "./_common.ts";
import { rawHonoApp } from "./raw-hono-app.ts";

startBenchServer("raw-hono", rawHonoApp().fetch);
