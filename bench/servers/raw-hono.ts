// Baseline: a plain Hono route that parses the JSON-RPC body and returns a fixed
// tools/call result (echoing only the request id). No MCP machinery at all.
import { Hono } from "hono";
import { startBenchServer } from "./_common.ts";

const result = { content: [{ type: "text", text: "hello" }] };

const app = new Hono();
app.post("/mcp", async (c) => {
  const body = await c.req.json<{ id?: string | number | null }>();
  return c.json({ jsonrpc: "2.0", id: body.id ?? null, result });
});

startBenchServer("raw-hono", app.fetch);
