/** Server-to-client requests on the POST stream: elicitation, sampling, roots. */
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import {
  initSession,
  type Json,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

function server(): McpServer {
  const mcp = new McpServer({ name: "client-requests", version: "1.0.0" });
  mcp.tool("ask_name", {}, async (_args, ctx) => {
    const answer = await ctx.elicit({
      message: "What is your name?",
      schema: z.object({ name: z.string().describe("Your name") }),
    });
    return answer.action === "accept"
      ? `hello ${answer.content.name}`
      : `no name: ${answer.action}`;
  });
  mcp.tool("summarize", {}, async (_args, ctx) => {
    const reply = await ctx.sample({
      messages: [{ role: "user", content: { type: "text", text: "Summarize the notes" } }],
      maxTokens: 50,
    });
    const content = Array.isArray(reply.content) ? reply.content[0] : reply.content;
    return `${reply.model}: ${content && "text" in content ? content.text : "?"}`;
  });
  mcp.tool("roots", {}, async (_args, ctx) => {
    const roots = await ctx.listRoots();
    return roots.map((root) => root.uri).join(",");
  });
  return mcp;
}

const ELICIT = { elicitation: {} };

let url: string;
let stateless: string;

beforeAll(async () => {
  url = await start(server(), { sessions: true });
  stateless = await start(server());
});

/** Starts a tool call and reads up to the server's request to the client. */
async function callUntilRequest(
  target: string,
  tool: string,
  method: string,
  headers: Record<string, string> = {},
): Promise<{ reader: SseReader; request: Json }> {
  const response = await post(target, toolCall(1, tool), headers);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const reader = new SseReader(response);
  const request = await reader.message();
  expect(request).toMatchObject({ jsonrpc: "2.0", method });
  expect(typeof request.id === "string" || typeof request.id === "number").toBe(true);
  return { reader, request };
}

async function answer(
  target: string,
  id: unknown,
  body: Json,
  headers: Record<string, string> = {},
): Promise<void> {
  const response = await post(target, { jsonrpc: "2.0", id, ...body }, headers);
  expect(response.status).toBe(202);
  expect(await response.text()).toBe("");
}

function resultText(message: Json): string {
  const result = message.result as { content: { text: string }[] };
  return result.content[0]!.text;
}

describe("elicitation", () => {
  it("sends elicitation/create on the POST stream and resumes the tool with the answer", async () => {
    const { id } = await initSession(url, "2025-11-25", ELICIT);
    const headers = sessionHeaders(id);
    const { reader, request } = await callUntilRequest(
      url,
      "ask_name",
      "elicitation/create",
      headers,
    );
    const params = request.params as Json;
    expect(params.message).toBe("What is your name?");
    expect(params.mode).toBe("form");
    expect(params.requestedSchema).toMatchObject({
      type: "object",
      properties: { name: { type: "string", description: "Your name" } },
      required: ["name"],
    });
    await answer(
      url,
      request.id,
      { result: { action: "accept", content: { name: "Ada" } } },
      headers,
    );
    const reply = await reader.message();
    expect(reply.id).toBe(1);
    expect(resultText(reply)).toBe("hello Ada");
    expect(await reader.messages()).toEqual([]);
  });

  it("passes a decline through", async () => {
    const { id } = await initSession(url, "2025-11-25", ELICIT);
    const headers = sessionHeaders(id);
    const { reader, request } = await callUntilRequest(
      url,
      "ask_name",
      "elicitation/create",
      headers,
    );
    await answer(url, request.id, { result: { action: "decline" } }, headers);
    expect(resultText(await reader.message())).toBe("no name: decline");
  });

  it("ignores an answer sent from another session", async () => {
    const a = await initSession(url, "2025-11-25", ELICIT);
    const b = await initSession(url, "2025-11-25", ELICIT);
    const { reader, request } = await callUntilRequest(
      url,
      "ask_name",
      "elicitation/create",
      sessionHeaders(a.id),
    );
    // b knows the id but is not the session asked: its answer must not count.
    await answer(
      url,
      request.id,
      { result: { action: "accept", content: { name: "Mallory" } } },
      sessionHeaders(b.id),
    );
    await answer(
      url,
      request.id,
      { result: { action: "accept", content: { name: "Alice" } } },
      sessionHeaders(a.id),
    );
    expect(resultText(await reader.message())).toBe("hello Alice");
  });

  it("takes only the first answer to a request", async () => {
    const { id } = await initSession(url, "2025-11-25", ELICIT);
    const headers = sessionHeaders(id);
    const { reader, request } = await callUntilRequest(
      url,
      "ask_name",
      "elicitation/create",
      headers,
    );
    await answer(
      url,
      request.id,
      { result: { action: "accept", content: { name: "First" } } },
      headers,
    );
    await answer(
      url,
      request.id,
      { result: { action: "accept", content: { name: "Second" } } },
      headers,
    );
    expect(resultText(await reader.message())).toBe("hello First");
  });

  it("refuses an accepted answer that does not match the schema", async () => {
    const { id } = await initSession(url, "2025-11-25", ELICIT);
    const headers = sessionHeaders(id);
    const { reader, request } = await callUntilRequest(
      url,
      "ask_name",
      "elicitation/create",
      headers,
    );
    await answer(url, request.id, { result: { action: "accept", content: { name: 42 } } }, headers);
    const reply = await reader.message();
    expect(reply).toMatchObject({ id: 1, error: { code: -32602 } });
  });

  it("passes a client's error answer on as the tool call's error", async () => {
    const { id } = await initSession(url, "2025-11-25", ELICIT);
    const headers = sessionHeaders(id);
    const { reader, request } = await callUntilRequest(
      url,
      "ask_name",
      "elicitation/create",
      headers,
    );
    await answer(
      url,
      request.id,
      { error: { code: -32603, message: "the user closed it" } },
      headers,
    );
    const reply = await reader.message();
    expect(reply).toMatchObject({ id: 1, error: { code: -32603, message: "the user closed it" } });
  });

  it("gives a clear error when the client did not declare elicitation", async () => {
    const { id } = await initSession(url, "2025-11-25", {});
    const response = await post(url, toolCall(1, "ask_name"), sessionHeaders(id));
    expect(response.status).toBe(200);
    const messages = await new SseReader(response).messages();
    // No request went to the client: only the error came back.
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ id: 1, error: { code: -32600 } });
    expect((messages[0]!.error as Json).message).toMatch(/elicitation/);
  });

  it("omits mode for a 2025-06-18 session", async () => {
    const { id } = await initSession(url, "2025-06-18", ELICIT);
    const headers = sessionHeaders(id, "2025-06-18");
    const { reader, request } = await callUntilRequest(
      url,
      "ask_name",
      "elicitation/create",
      headers,
    );
    expect(request.params).not.toHaveProperty("mode");
    await answer(url, request.id, { result: { action: "cancel" } }, headers);
    expect(resultText(await reader.message())).toBe("no name: cancel");
  });

  it("works without a session, on the stateless POST stream", async () => {
    const { reader, request } = await callUntilRequest(stateless, "ask_name", "elicitation/create");
    await answer(stateless, request.id, { result: { action: "accept", content: { name: "Sol" } } });
    expect(resultText(await reader.message())).toBe("hello Sol");
  });
});

describe("sampling", () => {
  it("round-trips sampling/createMessage", async () => {
    const { id } = await initSession(url, "2025-11-25", { sampling: {} });
    const headers = sessionHeaders(id);
    const { reader, request } = await callUntilRequest(
      url,
      "summarize",
      "sampling/createMessage",
      headers,
    );
    expect(request.params).toMatchObject({
      maxTokens: 50,
      messages: [{ role: "user", content: { type: "text", text: "Summarize the notes" } }],
    });
    await answer(
      url,
      request.id,
      {
        result: {
          role: "assistant",
          content: { type: "text", text: "short notes" },
          model: "test-model",
        },
      },
      headers,
    );
    expect(resultText(await reader.message())).toBe("test-model: short notes");
  });

  it("refuses sampling when the client did not declare it", async () => {
    const { id } = await initSession(url, "2025-11-25", ELICIT);
    const messages = await new SseReader(
      await post(url, toolCall(1, "summarize"), sessionHeaders(id)),
    ).messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ error: { code: -32600 } });
    expect((messages[0]!.error as Json).message).toMatch(/sampling/);
  });
});

describe("roots", () => {
  it("round-trips roots/list", async () => {
    const { id } = await initSession(url, "2025-11-25", { roots: { listChanged: true } });
    const headers = sessionHeaders(id);
    const { reader, request } = await callUntilRequest(url, "roots", "roots/list", headers);
    expect(request.params).toEqual({});
    await answer(
      url,
      request.id,
      {
        result: {
          roots: [
            { uri: "file:///home/ada/project", name: "project" },
            { uri: "file:///tmp", name: "tmp" },
          ],
        },
      },
      headers,
    );
    expect(resultText(await reader.message())).toBe("file:///home/ada/project,file:///tmp");
  });

  it("refuses roots when the client did not declare it", async () => {
    const { id } = await initSession(url, "2025-11-25", {});
    const messages = await new SseReader(
      await post(url, toolCall(1, "roots"), sessionHeaders(id)),
    ).messages();
    expect(messages[0]).toMatchObject({ error: { code: -32600 } });
    expect((messages[0]!.error as Json).message).toMatch(/roots/);
  });
});
