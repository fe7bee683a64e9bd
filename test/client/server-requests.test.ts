/**
 * Elicitation, sampling and roots: our handlers answering real server-to-client requests of
 * 2025-11-25 (2026-07-28 asks within results instead: see modern-mrtr.test.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type ClientHandlers,
  type ElicitationRequest,
  type McpClient,
  McpError,
} from "../../src/client/index.ts";
import type { CreateMessageParams } from "../../src/index.ts";
import { client, LEGACY_MODES, richServer, serve } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function text(result: { content: unknown[] }): string {
  return (result.content[0] as { text: string }).text;
}

// Every mode with a way for the server to reach the client during a call: the reply stream
// (SSE), or the GET stream (stateful JSON).
describe.each(LEGACY_MODES.filter((mode) => mode.sse || mode.sessions))("$name", (mode) => {
  async function connect(options: Parameters<typeof client>[0] = {}) {
    const { mcp } = richServer();
    mcp.tool("caps", {}, (_args, ctx) => JSON.stringify(ctx.client.capabilities ?? null));
    const made = client({ ...mode.client, ...options });
    await made.client.connect(await serve(mcp, mode.options()));
    open.push(made.client);
    return made.client;
  }

  it("answers a form elicitation", async () => {
    const asked: ElicitationRequest[] = [];
    const c = await connect({
      handlers: {
        elicitation: (request) => {
          asked.push(request);
          return { action: "accept", content: { name: "Ada" } };
        },
      },
    });
    expect(text(await c.callTool("ask_name"))).toBe("Hello, Ada!");
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      mode: "form",
      message: "What is your name?",
      requestedSchema: { type: "object", properties: { name: { type: "string" } } },
    });
  });

  it("passes a declined elicitation on", async () => {
    const c = await connect({ handlers: { elicitation: () => ({ action: "decline" }) } });
    expect(text(await c.callTool("ask_name"))).toBe("(decline)");
  });

  it("answers a URL elicitation when it declared the mode", async () => {
    const asked: ElicitationRequest[] = [];
    const c = await connect({
      elicitationModes: ["form", "url"],
      handlers: {
        elicitation: (request) => {
          asked.push(request);
          return { action: "accept" };
        },
      },
    });
    expect(text(await c.callTool("ask_url"))).toBe("url: accept");
    expect(asked[0]).toMatchObject({
      mode: "url",
      url: "https://example.com/x",
      message: "Sign in",
    });
    expect((asked[0] as { elicitationId: string }).elicitationId).toMatch(/\S/);
  });

  it("refuses a URL elicitation it did not declare", async () => {
    const c = await connect({ handlers: { elicitation: () => ({ action: "accept" }) } });
    const error = await c.callTool("ask_url").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    // A session knows our capabilities and refuses to ask; a stateless server asks and hears no.
    expect((error as McpError).code).toBe(mode.sessions ? -32600 : -32602);
  });

  it("answers sampling", async () => {
    const seen: CreateMessageParams[] = [];
    const c = await connect({
      handlers: {
        sampling: (params) => {
          seen.push(params);
          return { role: "assistant", content: { type: "text", text: "42" }, model: "test-model" };
        },
      },
    });
    expect(text(await c.callTool("sample", { prompt: "meaning?" }))).toBe("test-model said 42");
    expect(seen[0]).toMatchObject({
      maxTokens: 50,
      messages: [{ role: "user", content: { type: "text", text: "meaning?" } }],
    });
  });

  it("answers roots/list", async () => {
    const c = await connect({
      handlers: { roots: () => [{ uri: "file:///a" }, { uri: "file:///b", name: "b" }] },
    });
    expect(text(await c.callTool("roots"))).toBe("file:///a,file:///b");
  });

  it("declares a capability for each handler it has", async () => {
    const handlers: ClientHandlers = {
      elicitation: () => ({ action: "cancel" }),
      sampling: () => ({ role: "assistant", content: { type: "text", text: "" }, model: "m" }),
      roots: () => [],
    };
    const c = await connect({ handlers, capabilities: { experimental: { x: {} } } });
    const declared = JSON.parse(text(await c.callTool("caps")));
    if (mode.sessions) {
      expect(declared).toEqual({
        experimental: { x: {} },
        elicitation: { form: {} },
        sampling: {},
        roots: { listChanged: true },
      });
    } else {
      // A stateless server never sees initialize's capabilities on a later request.
      expect(declared).toBeNull();
    }
  });

  it("without a handler, the server's request fails and so does the call", async () => {
    const c = await connect();
    const error = await c.callTool("roots").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    // A session refuses for the missing capability; a stateless server hears "method not found".
    expect((error as McpError).code).toBe(mode.sessions ? -32600 : -32601);
  });

  it("a handler that throws answers with an internal error that keeps its details local", async () => {
    const c = await connect({
      handlers: {
        sampling: () => {
          throw new Error("secret local path /home/me");
        },
      },
    });
    const error = await c.callTool("sample", { prompt: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32603);
    expect((error as McpError).message).not.toContain("secret");
  });
});

describe("stateless JSON", () => {
  it("a server with no way to reach the client fails the call with a protocol error", async () => {
    const { mcp } = richServer();
    const { client: c } = client({ protocolVersion: "2025-11-25", handlers: { roots: () => [] } });
    await c.connect(await serve(mcp, { jsonResponse: true }));
    open.push(c);
    const error = await c.callTool("roots").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).message).toContain("no open stream");
  });
});
