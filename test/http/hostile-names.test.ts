/**
 * Names that come from the wire are looked up among own entries only. `__proto__`,
 * `constructor`, `toString`, `hasOwnProperty` and `valueOf` are names like any unknown one on
 * every path that takes a name: the path's usual error (never -32603), no value inherited from
 * Object.prototype, and nothing changed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type JsonObject, McpServer } from "../../src/index.ts";
import { eventually } from "../helpers/async.ts";
import { errorOf, modernCall, modernPost, resultOf as modernResult } from "./modern-support.ts";
import {
  initSession,
  type Json,
  messagesOf,
  post,
  SseReader,
  sessionHeaders,
  start,
} from "./support.ts";

const HOSTILE = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"] as const;
const TASKS = "io.modelcontextprotocol/tasks";

function build() {
  const mcp = new McpServer({ name: "hostile", version: "1.0.0" });
  const seen: Json[] = [];
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, (args) => {
    seen.push({ keys: Object.keys(args), proto: Object.getPrototypeOf(args) === Object.prototype });
    return JSON.stringify(args);
  });
  // A JSON Schema tool whose optional property carries a name Object.prototype also has.
  mcp.tool(
    "mirrored",
    {
      input: {
        type: "object",
        properties: { valueOf: { type: "string", "x-mcp-header": "Kind" } },
      } as JsonObject,
    },
    (args) => `mirrored ${JSON.stringify(args)}`,
  );
  mcp.tool("progress", {}, async (_args, ctx) => {
    await ctx.progress(1, 2);
    ctx.log.debug("logged");
    return "done";
  });
  mcp.tool("ask", {}, async (_args, ctx) => {
    const answer = await ctx.elicit(
      { message: "Name?", schema: z.object({ name: z.string() }) },
      { key: "name" },
    );
    return `hi ${answer.content?.name}`;
  });
  mcp.tool("waiting", { taskSupport: "optional" }, async (_args, ctx) => {
    await ctx.startTask();
    const answer = await ctx.elicit({ message: "Go?", schema: z.object({ go: z.boolean() }) });
    return `go ${answer.content?.go}`;
  });
  mcp.prompt(
    "review",
    {
      args: z.object({ language: z.string() }),
      complete: {
        // Shows exactly what the completer was handed as context.
        language: (_value, { arguments: args }) =>
          Object.entries(args).map(([key, value]) => `${key}=${typeof value}:${value}`),
      },
    },
    ({ language }) => `review ${language}`,
  );
  mcp.resource(
    "repos://{owner}{?q}",
    { complete: { owner: () => ["ann"] } },
    ({ owner, q }) => `repo of ${owner} ${JSON.stringify(q ?? null)}`,
  );
  return { mcp, seen };
}

let nextId = 1;
const request = (method: string, params?: Json): Json =>
  params === undefined
    ? { jsonrpc: "2.0", id: nextId++, method }
    : { jsonrpc: "2.0", id: nextId++, method, params };

/** Posts one request to a stateless 2025 endpoint and returns the response message. */
async function ask(url: string, method: string, params?: Json): Promise<Json> {
  const response = await post(url, request(method, params), {
    "mcp-protocol-version": "2025-11-25",
  });
  expect(response.status).toBe(200);
  const messages = (await messagesOf(response)) as Json[];
  return messages.at(-1)!;
}

afterEach(() => {
  // Nothing a request did may reach the prototype every object shares.
  for (const name of ["polluted", "admin", "progressToken", "name"]) {
    expect(Object.hasOwn(Object.prototype, name), name).toBe(false);
  }
});

describe("names on 2025 paths", () => {
  it.each(HOSTILE)("%s: unknown tool, prompt, resource and method; clear errors", async (name) => {
    const url = await start(build().mcp);
    expect(await ask(url, "tools/call", { name, arguments: {} })).toMatchObject({
      error: { code: -32602, message: `Unknown tool: ${name}` },
    });
    expect(await ask(url, "prompts/get", { name })).toMatchObject({
      error: { code: -32602, message: `Unknown prompt: ${name}` },
    });
    expect(await ask(url, "resources/read", { uri: name })).toMatchObject({
      error: { code: -32002, data: { uri: name } },
    });
    expect(await ask(url, name)).toMatchObject({ error: { code: -32601 } });
    expect(await ask(url, "logging/setLevel", { level: name })).toMatchObject({
      error: { code: -32602, message: "Invalid params: unknown logging level" },
    });
    expect(await ask(url, "tasks/get", { taskId: name })).toMatchObject({
      error: { code: -32602, message: "Failed to retrieve task: Task not found" },
    });
  });

  it.each(HOSTILE)("%s: completion refs, argument names and context keys", async (name) => {
    const url = await start(build().mcp);
    expect(
      await ask(url, "completion/complete", {
        ref: { type: "ref/prompt", name },
        argument: { name: "language", value: "" },
      }),
    ).toMatchObject({ error: { code: -32602, message: `Unknown prompt: ${name}` } });
    expect(
      await ask(url, "completion/complete", {
        ref: { type: "ref/resource", uri: name },
        argument: { name: "owner", value: "" },
      }),
    ).toMatchObject({ error: { code: -32002 } });
    // An argument name that is not registered: no values, whatever Object.prototype holds.
    for (const ref of [
      { type: "ref/prompt", name: "review" },
      { type: "ref/resource", uri: "repos://{owner}{?q}" },
    ]) {
      expect(
        await ask(url, "completion/complete", { ref, argument: { name, value: "x" } }),
      ).toEqual(
        expect.objectContaining({
          result: { completion: { values: [], total: 0, hasMore: false } },
        }),
      );
    }
    // context.arguments: the completer gets the own string entries, nothing else.
    const context = JSON.parse(
      `{"arguments": {"${name}": "x", "language": 7, "topic": "rust"}}`,
    ) as Json;
    expect(
      await ask(url, "completion/complete", {
        ref: { type: "ref/prompt", name: "review" },
        argument: { name: "language", value: "" },
        context,
      }),
    ).toMatchObject({
      result: { completion: { values: [`${name}=string:x`, "topic=string:rust"] } },
    });
  });

  it("keeps hostile keys in arguments as plain data, away from every prototype", async () => {
    const { mcp, seen } = build();
    const url = await start(mcp);
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi","__proto__":{"admin":true},"constructor":{"prototype":{"polluted":1}}}}}`;
    const response = await post(url, body, { "mcp-protocol-version": "2025-11-25" });
    const [reply] = (await messagesOf(response)) as Json[];
    expect(reply).toMatchObject({ result: { content: [{ text: '{"text":"hi"}' }] } });
    expect(seen).toEqual([{ keys: ["text"], proto: true }]);
    // A prompt's arguments likewise; a non-object is refused with -32602.
    expect(await ask(url, "prompts/get", { name: "review", arguments: "rust" })).toMatchObject({
      error: { code: -32602, message: "Invalid params: arguments must be an object" },
    });
    const prompt = `{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"review","arguments":{"language":"go","__proto__":{"language":"evil"}}}}`;
    const got = await post(url, prompt, { "mcp-protocol-version": "2025-11-25" });
    expect(await messagesOf(got)).toMatchObject([
      { result: { messages: [{ content: { text: "review go" } }] } },
    ]);
  });

  it("takes no progress token or template variable from a prototype-named key", async () => {
    const url = await start(build().mcp);
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","_meta":{"__proto__":{"progressToken":"p"},"constructor":"p"}}}`;
    const response = await post(url, body, { "mcp-protocol-version": "2025-11-25" });
    const messages = (await messagesOf(response)) as Json[];
    expect(messages.map((message) => message.method ?? "reply")).toEqual([
      "notifications/message",
      "reply",
    ]);
    for (const name of HOSTILE) {
      expect(await ask(url, "resources/read", { uri: `repos://ann?${name}=1&q=x` })).toMatchObject({
        result: { contents: [{ text: 'repo of ann "x"' }] },
      });
    }
  });

  it.each(HOSTILE)("%s: a session id that names nothing answers 404", async (name) => {
    const url = await start(build().mcp, { sessions: true });
    await initSession(url);
    const response = await post(url, request("ping"), sessionHeaders(name));
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({
      error: { code: -32000, message: "Session not found" },
    });
  });

  it("leaves a session's log level alone when setLevel names no level", async () => {
    const url = await start(build().mcp, { sessions: true });
    const { id } = await initSession(url);
    const headers = sessionHeaders(id);
    const set = await post(url, request("logging/setLevel", { level: "error" }), headers);
    expect(await messagesOf(set)).toMatchObject([{ result: {} }]);
    for (const name of HOSTILE) {
      const refused = await post(url, request("logging/setLevel", { level: name }), headers);
      expect(await messagesOf(refused)).toMatchObject([{ error: { code: -32602 } }]);
    }
    // Still "error": the tool's debug line is not sent.
    const call = await post(url, request("tools/call", { name: "progress" }), headers);
    expect(((await messagesOf(call)) as Json[]).map((m) => m.method ?? "reply")).toEqual(["reply"]);
  });
});

describe("names on 2026-07-28 paths", () => {
  it.each(HOSTILE)("%s: unknown tool, prompt, method, log level and task", async (name) => {
    const url = await start(build().mcp);
    const tool = await modernCall(url, 1, "tools/call", { name, arguments: {} });
    expect(errorOf(tool)).toMatchObject({ code: -32602, message: `Unknown tool: ${name}` });
    const prompt = await modernCall(url, 2, "prompts/get", { name });
    expect(errorOf(prompt)).toMatchObject({ code: -32602, message: `Unknown prompt: ${name}` });
    const method = await modernCall(url, 3, name, {});
    expect(method.status).toBe(404);
    expect(errorOf(method)).toMatchObject({ code: -32601 });
    const level = await modernCall(
      url,
      4,
      "tools/list",
      {},
      { meta: { "io.modelcontextprotocol/logLevel": name } },
    );
    expect(level.status).toBe(400);
    expect(errorOf(level)).toMatchObject({
      code: -32602,
      message: "Invalid params: unknown log level in _meta",
    });
    const task = await modernCall(
      url,
      5,
      "tasks/get",
      { taskId: name },
      { capabilities: { extensions: { [TASKS]: {} } }, headers: { "mcp-name": name } },
    );
    expect(errorOf(task)).toMatchObject({
      code: -32602,
      message: "Failed to retrieve task: Task not found",
    });
  });

  it("takes no answer from a prototype-named key of inputResponses", async () => {
    const url = await start(build().mcp);
    const capabilities = { elicitation: { form: {} } };
    for (const name of HOSTILE) {
      const responses = JSON.parse(
        `{"${name}": {"action": "accept", "content": {"name": "mallory"}}}`,
      ) as Json;
      const reply = await modernCall(
        url,
        1,
        "tools/call",
        { name: "ask", arguments: {}, inputResponses: responses },
        { capabilities },
      );
      // Still asking for "name": nothing was taken as its answer.
      expect(modernResult(reply)).toMatchObject({
        resultType: "input_required",
        inputRequests: { name: { method: "elicitation/create" } },
      });
      expect(Object.keys(modernResult(reply).inputRequests as Json)).toEqual(["name"]);
    }
  });

  it("ignores prototype-named keys in tasks/update and leaves the task as it was", async () => {
    const url = await start(build().mcp);
    const capabilities = { elicitation: { form: {} }, extensions: { [TASKS]: {} } };
    const started = modernResult(
      await modernCall(
        url,
        1,
        "tools/call",
        { name: "waiting", arguments: {} },
        {
          capabilities,
          headers: { "mcp-name": "waiting" },
        },
      ),
    );
    const taskId = String((started.task as Json | undefined)?.taskId ?? started.taskId);
    const get = () =>
      modernCall(
        url,
        2,
        "tasks/get",
        { taskId },
        { capabilities, headers: { "mcp-name": taskId } },
      );
    const before = await eventually(
      async () => modernResult(await get()),
      (task) => task.status === "input_required",
    );
    expect(before.status).toBe("input_required");
    for (const name of HOSTILE) {
      const responses = JSON.parse(
        `{"${name}": {"action": "accept", "content": {"go": true}}}`,
      ) as Json;
      const update = await modernCall(
        url,
        3,
        "tasks/update",
        { taskId, inputResponses: responses },
        { capabilities, headers: { "mcp-name": taskId } },
      );
      expect(modernResult(update)).toMatchObject({ resultType: "complete" });
    }
    const after = modernResult(await get());
    expect(after.status).toBe("input_required");
    expect(after.inputRequests).toEqual(before.inputRequests);
  });

  it("does not read a mirrored header argument off the prototype", async () => {
    const url = await start(build().mcp);
    // `valueOf` is absent: no Mcp-Param-Kind is owed (Object.prototype.valueOf is not it).
    const absent = await modernCall(
      url,
      1,
      "tools/call",
      { name: "mirrored", arguments: {} },
      {
        headers: { "mcp-name": "mirrored" },
      },
    );
    expect(modernResult(absent)).toMatchObject({ content: [{ text: "mirrored {}" }] });
    const present = await modernCall(
      url,
      2,
      "tools/call",
      { name: "mirrored", arguments: { valueOf: "x" } },
      { headers: { "mcp-name": "mirrored", "mcp-param-kind": "x" } },
    );
    expect(modernResult(present)).toMatchObject({
      content: [{ text: 'mirrored {"valueOf":"x"}' }],
    });
    const missing = await modernCall(
      url,
      3,
      "tools/call",
      { name: "mirrored", arguments: { valueOf: "x" } },
      { headers: { "mcp-name": "mirrored" } },
    );
    expect(missing.status).toBe(400);
    expect(errorOf(missing)).toMatchObject({ code: -32020 });
  });

  it("subscribes to nothing through prototype-named filter keys", async () => {
    const url = await start(build().mcp, { keepAliveMs: 0 });
    const controller = new AbortController();
    const notifications = JSON.parse(
      '{"__proto__": {"toolsListChanged": true}, "constructor": {"resourcesListChanged": true}}',
    ) as Json;
    const response = await modernPost(
      url,
      1,
      "subscriptions/listen",
      { notifications },
      {
        signal: controller.signal,
      },
    );
    expect(response.status).toBe(200);
    const ack = await new SseReader(response).message();
    expect(ack).toMatchObject({ params: { notifications: {} } });
    expect(Object.keys((ack.params as Json).notifications as Json)).toEqual([]);
    controller.abort();
  });
});
