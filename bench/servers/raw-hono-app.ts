// The raw Hono baseline: a plain route that parses the JSON-RPC body and returns a fixed
// tools/call result (echoing only the request id). No MCP machinery at all. Shared by the
// wrk server (raw-hono.ts) and the in-process measurement (bench/cpu.ts).
// A body with `_meta` (the 2026-07-28 envelope) gets the bytes a 2026-07-28 server sends for
// the same call (`resultType` and serverInfo), so each revision has a floor with its own payload.
import { Hono } from "hono";

const result = { content: [{ type: "text", text: "hello" }] };
const modernResult = {
  ...result,
  resultType: "complete",
  _meta: { "io.modelcontextprotocol/serverInfo": { name: "bench", version: "1.0.0" } },
};

export function rawHonoApp(): Hono {
  const app = new Hono();
  app.post("/mcp", async (c) => {
    const body = await c.req.json<{ id?: string | number | null; params?: { _meta?: object } }>();
    const reply = body.params?._meta ? modernResult : result;
    return c.json({ jsonrpc: "2.0", id: body.id ?? null, result: reply });
  });
  return app;
}
