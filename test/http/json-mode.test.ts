/** jsonResponse: one JSON body per POST instead of an SSE stream. */
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import { nextTurn } from "../helpers/async.ts";
import {
  initializeRequest,
  initSession,
  type Json,
  openGet,
  ping,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

function server(): McpServer {
  const mcp = new McpServer({ name: "json-mode", version: "1.0.0" });
  mcp.tool("add", { input: z.object({ a: z.number(), b: z.number() }) }, ({ a, b }) => `${a + b}`);
  mcp.tool(
    "slow_add",
    { input: z.object({ a: z.number(), b: z.number() }) },
    async ({ a, b }, ctx) => {
      await ctx.progress(1, 2, "thinking");
      ctx.log.info("adding");
      await nextTurn();
      return `${a + b}`;
    },
  );
  mcp.tool("ask", {}, async (_args, ctx) => {
    const answer = await ctx.elicit({
      message: "Colour?",
      schema: z.object({ colour: z.string() }),
    });
    return answer.action === "accept" ? answer.content.colour : answer.action;
  });
  return mcp;
}

let url: string;
let stateful: string;

beforeAll(async () => {
  url = await start(server(), { jsonResponse: true });
  stateful = await start(server(), { jsonResponse: true, sessions: true });
});

async function json(response: Response): Promise<unknown> {
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("application/json");
  return response.json();
}

describe("JSON replies", () => {
  it("answers one request with one JSON object", async () => {
    const body = await json(await post(url, toolCall(1, "add", { a: 2, b: 3 })));
    expect(body).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { content: [{ type: "text", text: "5" }] },
    });
  });

  it("answers a handler that streams along the way with just its result", async () => {
    const body = await json(
      await post(url, toolCall(1, "slow_add", { a: 1, b: 1 }, { progressToken: "p" })),
    );
    expect(body).toMatchObject({ id: 1, result: { content: [{ text: "2" }] } });
  });

  it("answers a batch with an array, in request order", async () => {
    const body = await json(
      await post(url, [
        toolCall("x", "slow_add", { a: 1, b: 2 }),
        ping("y"),
        { jsonrpc: "2.0", id: "z", method: "no/such" },
      ]),
    );
    expect(Array.isArray(body)).toBe(true);
    const replies = body as Json[];
    expect(replies.map((reply) => reply.id)).toEqual(["x", "y", "z"]);
    expect(replies[0]).toMatchObject({ result: { content: [{ text: "3" }] } });
    expect(replies[1]).toEqual({ jsonrpc: "2.0", id: "y", result: {} });
    expect(replies[2]).toMatchObject({ error: { code: -32601 } });
  });

  it("answers a batch with one request among notifications with an array of one", async () => {
    const body = await json(
      await post(url, [ping(1), { jsonrpc: "2.0", method: "notifications/initialized" }]),
    );
    expect(body).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
  });

  it("answers a notification with 202 and no body", async () => {
    const response = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("");
  });

  it("answers errors in JSON too", async () => {
    expect(await json(await post(url, toolCall(1, "nope")))).toMatchObject({
      id: 1,
      error: { code: -32602 },
    });
    const malformed = await post(url, "{");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ id: null, error: { code: -32700 } });
  });

  it("still requires an Accept header naming both types", async () => {
    const response = await post(url, ping(), { accept: "application/json" });
    expect(response.status).toBe(406);
  });
});

describe("JSON replies with sessions", () => {
  it("initializes with a session id and a JSON body", async () => {
    const response = await post(stateful, initializeRequest());
    expect(response.headers.get("mcp-session-id")).toMatch(/^[0-9a-f]{32}$/);
    expect(await json(response)).toMatchObject({
      id: 0,
      result: { protocolVersion: "2025-11-25", serverInfo: { name: "json-mode" } },
    });
  });

  it("sends a server-to-client request on the GET stream, the only stream there is", async () => {
    const { id } = await initSession(stateful, "2025-11-25", { elicitation: {} });
    const headers = sessionHeaders(id);
    const get = new SseReader(await openGet(stateful, id));
    const pending = post(stateful, toolCall(1, "ask"), headers);
    const request = await get.message();
    expect(request).toMatchObject({ method: "elicitation/create", params: { message: "Colour?" } });
    const answer = await post(
      stateful,
      { jsonrpc: "2.0", id: request.id, result: { action: "accept", content: { colour: "teal" } } },
      headers,
    );
    expect(answer.status).toBe(202);
    expect(await json(await pending)).toMatchObject({
      id: 1,
      result: { content: [{ text: "teal" }] },
    });
    await get.cancel();
  });

  it("fails a server-to-client request clearly when no GET stream is open", async () => {
    const { id } = await initSession(stateful, "2025-11-25", { elicitation: {} });
    const body = (await json(await post(stateful, toolCall(1, "ask"), sessionHeaders(id)))) as Json;
    expect(body).toMatchObject({ id: 1, error: { code: -32600 } });
    expect((body.error as Json).message).toMatch(/no open stream/);
  });
});
