import { describe, expect, it } from "vitest";
import { createDemoApp } from "../examples/demo/server.ts";
import { listen, messagesOf, openSession, post } from "./helpers/http.ts";

describe("demo server", () => {
  it("initializes a session and calls a tool over loopback HTTP", async () => {
    const url = `${await listen(createDemoApp({ auth: false }))}/mcp`;
    const session = await openSession(url);
    const reply = await post(
      url,
      {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "add_note", arguments: { text: "hi" } },
      },
      { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
    );
    expect(reply.status).toBe(200);
    const messages = await messagesOf(reply);
    expect(messages.at(-1)).toMatchObject({ id: 1, result: { structuredContent: { id: "1" } } });
  });
});
