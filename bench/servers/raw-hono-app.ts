// The raw Hono baseline: a plain route that parses the JSON-RPC body and returns a fixed
// tools/call result (echoing only the request id). No MCP machinery at all. Shared by the
// wrk server (raw-hono.ts) and the in-process measurement (bench/cpu.ts).
import { Hono } from "hono";

const result = { content: [{ type: "text", text: "hello" }] };

export function rawHonoApp(): Hono {
  const app = new Hono();
  app.post("/mcp", async (c) => {
    const body = await c.req.json<{ id?: string | number | null }>();
    return c.json({ jsonrpc: "2.0", id: body.id ?? null, result });
  });
  return app;
}
