/**
 * Multi round-trip requests (2026-07-28) from unchanged handler code: several inputs asked in
 * one round, sampling and roots, prompts, and the 2025 revisions' server-to-client requests
 * still working on the same server instance, side by side.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import { capturingLogger } from "../helpers/log.ts";
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
    // consult asks for sampling first, then roots: the first one missing is reported.
    for (const [capabilities, missing] of [
      [{ sampling: {} }, { roots: {} }],
      [{ roots: {} }, { sampling: {} }],
      [{}, { sampling: {} }],
    ] as const) {
      const reply = await modernCall(
        url,
        1,
        "tools/call",
        { name: "consult", arguments: {} },
        { capabilities },
      );
      expect(reply.status, JSON.stringify(capabilities)).toBe(400);
      expect(errorOf(reply)).toEqual({
        code: -32021,
        message: expect.any(String),
        data: { requiredCapabilities: missing },
      });
    }
  });

  it("names the elicitation mode that is missing in requiredCapabilities", async () => {
    const mcp = new McpServer({ name: "modes", version: "1.0.0" });
    mcp.tool("link", { description: "a URL-mode elicitation" }, async (_args, ctx) => {
      const answer = await ctx.elicit({ mode: "url", message: "sign in", url: "https://x.test" });
      return answer.action;
    });
    mcp.tool("form", { description: "a form elicitation" }, async (_args, ctx) => {
      const answer = await ctx.elicit({ message: "name?", schema: z.object({ n: z.string() }) });
      return answer.action;
    });
    const url = await start(mcp);
    const link = await modernCall(
      url,
      1,
      "tools/call",
      { name: "link", arguments: {} },
      ELICITATION,
    );
    expect(link.status).toBe(400);
    expect(errorOf(link).data).toEqual({ requiredCapabilities: { elicitation: { url: {} } } });
    const form = await modernCall(
      url,
      2,
      "tools/call",
      { name: "form", arguments: {} },
      { capabilities: { elicitation: { url: {} } } },
    );
    expect(form.status).toBe(400);
    expect(errorOf(form).data).toEqual({ requiredCapabilities: { elicitation: { form: {} } } });
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

describe("named inputs", () => {
  function named(logger = capturingLogger()) {
    const mcp = new McpServer({ name: "named", version: "1.0.0", logger });
    const runs = { steps: 0 };
    mcp.tool("steps", { description: "two named questions in turn" }, async (_args, ctx) => {
      runs.steps++;
      const first = await ctx.elicit(
        { message: "name?", schema: z.object({ name: z.string() }) },
        { key: "user_name" },
      );
      const second = await ctx.elicit(
        { message: "color?", schema: z.object({ color: z.string() }) },
        { key: "color" },
      );
      return `${first.content?.name ?? first.action} likes ${second.content?.color ?? second.action}`;
    });
    mcp.tool("all", { description: "one of each, named" }, async (_args, ctx) => {
      const [who, said, roots] = await Promise.all([
        ctx.elicit({ message: "who?", schema: z.object({ who: z.string() }) }, { key: "who" }),
        ctx.sample(
          { messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 5 },
          { key: "said" },
        ),
        ctx.listRoots({ key: "roots" }),
      ]);
      const content = Array.isArray(said.content) ? said.content[0] : said.content;
      return `${who.content?.who}: ${String(content?.text)} in ${roots.length} roots`;
    });
    mcp.tool("twice", { description: "asks one key twice" }, async (_args, ctx) => {
      const schema = z.object({ a: z.string() });
      await Promise.all([
        ctx.elicit({ message: "a?", schema }, { key: "same" }),
        ctx.elicit({ message: "again?", schema }, { key: "same" }),
      ]);
      return "never";
    });
    mcp.tool("unnamed", { description: "one unnamed question" }, async (_args, ctx) => {
      const answer = await ctx.elicit({ message: "a?", schema: z.object({ a: z.string() }) });
      return `got ${answer.content?.a}`;
    });
    return { mcp, runs };
  }

  it("keys each round's inputRequests by the names the handler gave", async () => {
    const { mcp, runs } = named();
    const url = await start(mcp);
    const { rounds, final } = await runRounds(
      url,
      "tools/call",
      { name: "steps", arguments: {} },
      (requests) =>
        "user_name" in requests
          ? { user_name: accept({ name: "Ada" }) }
          : { color: accept({ color: "teal" }) },
      ELICITATION,
    );
    expect(rounds.map((round) => Object.keys(round.inputRequests))).toEqual([
      ["user_name"],
      ["color"],
    ]);
    expect(resultOf(final).content).toEqual([{ type: "text", text: "Ada likes teal" }]);
    expect(runs.steps).toBe(3);
  });

  it("takes answers to named inputs up front, in the first request", async () => {
    const { mcp, runs } = named();
    const url = await start(mcp);
    const reply = await modernCall(
      url,
      1,
      "tools/call",
      {
        name: "steps",
        arguments: {},
        inputResponses: {
          user_name: accept({ name: "Bo" }),
          color: accept({ color: "red" }),
          unrelated: accept({ x: 1 }),
        },
      },
      ELICITATION,
    );
    expect(resultOf(reply)).toMatchObject({
      resultType: "complete",
      content: [{ type: "text", text: "Bo likes red" }],
    });
    expect(runs.steps).toBe(1);
  });

  it("takes up-front answers only for named inputs, not numbered ones", async () => {
    const url = await start(named().mcp);
    const round = inputRequired(
      await modernCall(
        url,
        1,
        "tools/call",
        { name: "unnamed", arguments: {}, inputResponses: { "input-0": accept({ a: "early" }) } },
        ELICITATION,
      ),
    );
    expect(Object.keys(round.inputRequests)).toEqual(["input-0"]);
  });

  it("keeps an answer sealed in an earlier round over a new one for the same key", async () => {
    const url = await start(named().mcp);
    const first = inputRequired(
      await modernCall(url, 1, "tools/call", { name: "steps", arguments: {} }, ELICITATION),
    );
    const second = inputRequired(
      await modernCall(
        url,
        2,
        "tools/call",
        {
          name: "steps",
          arguments: {},
          inputResponses: { user_name: accept({ name: "Ada" }) },
          requestState: first.requestState,
        },
        ELICITATION,
      ),
    );
    const done = await modernCall(
      url,
      3,
      "tools/call",
      {
        name: "steps",
        arguments: {},
        inputResponses: {
          user_name: accept({ name: "Mallory" }),
          color: accept({ color: "teal" }),
        },
        requestState: second.requestState,
      },
      ELICITATION,
    );
    expect(resultOf(done).content).toEqual([{ type: "text", text: "Ada likes teal" }]);
  });

  it("embeds one request of each kind under its name", async () => {
    const url = await start(named().mcp);
    const capabilities = { elicitation: {}, sampling: {}, roots: {} };
    const round = inputRequired(
      await modernCall(url, 1, "tools/call", { name: "all", arguments: {} }, { capabilities }),
    );
    expect(
      Object.fromEntries(Object.entries(round.inputRequests).map(([k, r]) => [k, r.method])),
    ).toEqual({
      who: "elicitation/create",
      said: "sampling/createMessage",
      roots: "roots/list",
    });
  });

  it("refuses answers that are not results of what was asked with -32602", async () => {
    const url = await start(named().mcp);
    const capabilities = { elicitation: {}, sampling: {}, roots: {} };
    const good = {
      who: accept({ who: "Cy" }),
      said: { role: "assistant", content: { type: "text", text: "hello" }, model: "m" },
      roots: { roots: [{ uri: "file:///a" }] },
    };
    const done = await modernCall(
      url,
      1,
      "tools/call",
      { name: "all", arguments: {}, inputResponses: good },
      { capabilities },
    );
    expect(resultOf(done).content).toEqual([{ type: "text", text: "Cy: hello in 1 roots" }]);
    for (const bad of [
      { who: { action: "maybe" } },
      { who: { action: "accept", content: "Cy" } },
      { said: { role: "assistant", content: { type: "text", text: "x" } } },
      { said: { role: "assistant", model: "m" } },
      { roots: { roots: "file:///a" } },
      { roots: { roots: [{ name: "no uri" }] } },
    ]) {
      const reply = await modernCall(
        url,
        2,
        "tools/call",
        { name: "all", arguments: {}, inputResponses: { ...good, ...bad } },
        { capabilities },
      );
      expect(errorOf(reply), JSON.stringify(bad)).toMatchObject({
        code: -32602,
        message: expect.stringContaining("Invalid inputResponses"),
      });
    }
  });

  it("fails a handler that uses one key for two requests", async () => {
    const logger = capturingLogger();
    const url = await start(named(logger).mcp);
    const reply = await modernCall(
      url,
      1,
      "tools/call",
      { name: "twice", arguments: {} },
      ELICITATION,
    );
    // A bug in the tool: the operator reads why, the client only that it failed.
    expect(resultOf(reply)).toMatchObject({
      isError: true,
      content: [{ type: "text", text: expect.stringMatching(/^Tool "twice" failed \(error id/) }],
    });
    const [line] = logger.at("error");
    expect((line!.fields.error as Error).message).toContain('"same" is used twice');
  });

  it("ignores the names under the 2025 revisions: the request goes to the client as is", async () => {
    const { mcp } = named();
    const url = await start(mcp, { sessions: true, keepAliveMs: 0 });
    const session = await initSession(url, "2025-11-25", { elicitation: {} });
    const headers = sessionHeaders(session.id);
    const reader = new SseReader(await post(url, toolCall(1, "steps"), headers));
    const asked = await reader.message();
    expect(asked).toMatchObject({
      method: "elicitation/create",
      params: { message: "name?", mode: "form" },
    });
    expect(JSON.stringify(asked)).not.toContain("user_name");
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
