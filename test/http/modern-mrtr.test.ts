/**
 * Multi round-trip requests (2026-07-28) from unchanged handler code: several inputs asked in
 * one round, sampling and roots, prompts, and the 2025 revisions' server-to-client requests
 * still working on the same server instance, side by side.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import { errorOf, inputRequired, META, modernCall, resultOf, runRounds } from "./modern-support.ts";
import {
  initSession,
  type Json,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

function build() {
  const mcp = new McpServer({ name: "mrtr", version: "1.0.0" });
  const runs = { pair: 0 };
  mcp.tool("pair", { description: "asks two things at once" }, async (_args, ctx) => {
    runs.pair++;
    const [city, color] = await Promise.all([
      ctx.elicit({ message: "city?", schema: z.object({ city: z.string() }) }),
      ctx.elicit({ message: "color?", schema: z.object({ color: z.string() }) }),
    ]);
    return `${city.content?.city ?? city.action} / ${color.content?.color ?? color.action}`;
  });
  mcp.tool("consult", { description: "samples the model and lists roots" }, async (_args, ctx) => {
    const [sample, roots] = await Promise.all([
      ctx.sample({
        messages: [{ role: "user", content: { type: "text", text: "capital of France?" } }],
        maxTokens: 20,
      }),
      ctx.listRoots(),
    ]);
    const content = Array.isArray(sample.content) ? sample.content[0] : sample.content;
    const said = content?.type === "text" ? String(content.text) : "?";
    return `${said} in ${roots.map((root) => root.uri).join(",")}`;
  });
  mcp.prompt("greeting", { args: z.object({ tone: z.string() }) }, async ({ tone }, ctx) => {
    const answer = await ctx.elicit({ message: "whom?", schema: z.object({ who: z.string() }) });
    return `Write a ${tone} greeting for ${answer.content?.who}`;
  });
  return { mcp, runs };
}

const ELICITATION = { capabilities: { elicitation: {} } };
const accept = (content: Json) => ({ action: "accept", content });

describe("multi round-trip requests", () => {
  it("asks both inputs of a Promise.all in one round and completes on one retry", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const { rounds, final } = await runRounds(
      url,
      "tools/call",
      { name: "pair", arguments: {} },
      (requests) =>
        Object.fromEntries(
          Object.entries(requests).map(([key, request]) => [
            key,
            request.params.message === "city?"
              ? accept({ city: "Oslo" })
              : accept({ color: "red" }),
          ]),
        ),
      ELICITATION,
    );
    expect(rounds).toHaveLength(1);
    expect(Object.values(rounds[0]!.inputRequests)).toEqual([
      { method: "elicitation/create", params: expect.objectContaining({ message: "city?" }) },
      { method: "elicitation/create", params: expect.objectContaining({ message: "color?" }) },
    ]);
    expect(new Set(Object.keys(rounds[0]!.inputRequests)).size).toBe(2);
    expect(resultOf(final)).toMatchObject({
      resultType: "complete",
      content: [{ type: "text", text: "Oslo / red" }],
    });
    expect(runs.pair).toBe(2);
  });

  it("asks again only for what a partial answer left out", async () => {
    const url = await start(build().mcp);
    const first = inputRequired(
      await modernCall(url, 1, "tools/call", { name: "pair", arguments: {} }, ELICITATION),
    );
    const [cityKey, colorKey] = Object.keys(first.inputRequests);
    const second = inputRequired(
      await modernCall(
        url,
        2,
        "tools/call",
        {
          name: "pair",
          arguments: {},
          inputResponses: { [cityKey!]: accept({ city: "Lima" }) },
          requestState: first.requestState,
        },
        ELICITATION,
      ),
    );
    expect(Object.keys(second.inputRequests)).toEqual([colorKey]);
    const done = await modernCall(
      url,
      3,
      "tools/call",
      {
        name: "pair",
        arguments: {},
        inputResponses: { [colorKey!]: { action: "decline" } },
        requestState: second.requestState,
      },
      ELICITATION,
    );
    expect(resultOf(done).content).toEqual([{ type: "text", text: "Lima / decline" }]);
  });

  it("embeds sampling and roots requests when the client declares them", async () => {
    const url = await start(build().mcp);
    const capabilities = { sampling: {}, roots: {} };
    const { rounds, final } = await runRounds(
      url,
      "tools/call",
      { name: "consult", arguments: {} },
      (requests) =>
        Object.fromEntries(
          Object.entries(requests).map(([key, request]) => [
            key,
            request.method === "roots/list"
              ? { roots: [{ uri: "file:///work", name: "work" }] }
              : {
                  role: "assistant",
                  content: { type: "text", text: "Paris" },
                  model: "test-model",
                  stopReason: "endTurn",
                },
          ]),
        ),
      { capabilities },
    );
    expect(rounds).toHaveLength(1);
    expect(Object.values(rounds[0]!.inputRequests)).toEqual([
      {
        method: "sampling/createMessage",
        params: {
          messages: [{ role: "user", content: { type: "text", text: "capital of France?" } }],
          maxTokens: 20,
        },
      },
      { method: "roots/list", params: {} },
    ]);
    expect(resultOf(final).content).toEqual([{ type: "text", text: "Paris in file:///work" }]);
  });

  it("refuses sampling and roots the client did not declare with 400 and -32021", async () => {
    const url = await start(build().mcp);
    for (const capabilities of [{ sampling: {} }, { roots: {} }, {}]) {
      const reply = await modernCall(
        url,
        1,
        "tools/call",
        { name: "consult", arguments: {} },
        { capabilities },
      );
      expect(reply.status, JSON.stringify(capabilities)).toBe(400);
      expect(errorOf(reply)).toMatchObject({ code: -32021 });
    }
  });

  it("runs prompts/get over rounds too", async () => {
    const url = await start(build().mcp);
    const { rounds, final } = await runRounds(
      url,
      "prompts/get",
      { name: "greeting", arguments: { tone: "warm" } },
      (requests) =>
        Object.fromEntries(Object.keys(requests).map((key) => [key, accept({ who: "Ada" })])),
      ELICITATION,
    );
    expect(rounds).toHaveLength(1);
    expect(resultOf(final)).toMatchObject({
      resultType: "complete",
      messages: [
        { role: "user", content: { type: "text", text: "Write a warm greeting for Ada" } },
      ],
    });
  });
});

describe("2025 sessions beside 2026-07-28 requests on one server", () => {
  it("keeps server-to-client requests for the session while a stateless request runs its rounds", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp, { sessions: true, keepAliveMs: 0 });
    const session = await initSession(url, "2025-11-25", { elicitation: {} });
    expect(session.result).toMatchObject({ protocolVersion: "2025-11-25" });
    const headers = sessionHeaders(session.id);

    // The 2025 call: its elicitations arrive as requests on its reply stream.
    const legacy = new SseReader(await post(url, toolCall(1, "pair"), headers));
    const asked = [await legacy.message(), await legacy.message()];
    expect(asked.map((m) => [m.method, (m.params as Json).message])).toEqual([
      ["elicitation/create", "city?"],
      ["elicitation/create", "color?"],
    ]);

    // Meanwhile a 2026-07-28 request to the same tool runs its rounds, with no session.
    const { rounds, final } = await runRounds(
      url,
      "tools/call",
      { name: "pair", arguments: {} },
      (requests) =>
        Object.fromEntries(
          Object.entries(requests).map(([key, request]) => [
            key,
            request.params.message === "city?"
              ? accept({ city: "Rome" })
              : accept({ color: "blue" }),
          ]),
        ),
      { ...ELICITATION, meta: { [META.logLevel]: "info" } },
    );
    expect(rounds).toHaveLength(1);
    expect(resultOf(final)).toMatchObject({
      resultType: "complete",
      content: [{ type: "text", text: "Rome / blue" }],
      _meta: { [META.serverInfo]: { name: "mrtr", version: "1.0.0" } },
    });

    // The 2025 call is still waiting; answer it and get a 2025-shaped result.
    for (const [i, request] of asked.entries()) {
      const answer = i === 0 ? accept({ city: "Kyiv" }) : accept({ color: "green" });
      const ack = await post(url, { jsonrpc: "2.0", id: request.id, result: answer }, headers);
      expect(ack.status).toBe(202);
    }
    const [result] = await legacy.messages();
    expect(result).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { content: [{ type: "text", text: "Kyiv / green" }] },
    });
    expect(runs.pair).toBe(3);

    // Methods of each era stay in their era.
    const ping = await post(url, { jsonrpc: "2.0", id: 2, method: "ping" }, headers);
    expect(ping.status).toBe(200);
    expect((await modernCall(url, 3, "ping")).status).toBe(404);
    const discover = await post(url, { jsonrpc: "2.0", id: 4, method: "server/discover" }, headers);
    expect(await new SseReader(discover).message()).toMatchObject({ error: { code: -32601 } });
  });
});
