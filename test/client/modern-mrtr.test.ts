/**
 * Multi round-trip requests (2026-07-28): the server asks for elicitation, sampling or roots
 * inside its result; the client answers with its handlers and sends the request again, and
 * the caller of callTool, readResource or getPrompt sees only the final result.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ElicitationRequest,
  type HandlerExtra,
  type McpClient,
  McpError,
  ProtocolError,
} from "../../src/client/index.ts";
import { McpServer } from "../../src/index.ts";
import { deferred } from "../helpers/async.ts";
import { sseMessages } from "../helpers/http.ts";
import {
  bodyOf,
  client,
  discoverResult,
  type FakeRequest,
  type FetchCall,
  fakeServer,
  type Json,
  MODERN_MODES,
  methodsOf,
  recordingFetch,
  richServer,
  serve,
} from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function text(result: { content: unknown[] }): string {
  return (result.content[0] as { text: string }).text;
}

/** The JSON-RPC response in a recorded reply, JSON or SSE. */
async function replyOf(call: FetchCall): Promise<Json> {
  const body = (await call.reply!).trim();
  return (body.startsWith("{") ? JSON.parse(body) : sseMessages(body).at(-1)) as Json;
}

/** A server whose tools, resource and prompt ask for input, one way or another. */
function askingServer() {
  const mcp = new McpServer({ name: "asking", version: "1.0.0" });
  mcp.tool("ask_twice", { input: z.object({ topic: z.string() }) }, async ({ topic }, ctx) => {
    const first = await ctx.elicit({
      message: `Name for ${topic}?`,
      schema: z.object({ name: z.string() }),
    });
    const second = await ctx.elicit({ message: "Age?", schema: z.object({ age: z.number() }) });
    return `${topic}: ${first.content?.name} is ${second.content?.age}`;
  });
  mcp.tool("ask_together", {}, async (_args, ctx) => {
    const [name, age] = await Promise.all([
      ctx.elicit({ message: "Name?", schema: z.object({ name: z.string() }) }),
      ctx.elicit({ message: "Age?", schema: z.object({ age: z.number() }) }),
    ]);
    return `${name.content?.name} is ${age.content?.age}`;
  });
  mcp.resource("secret://door", { name: "door" }, async (_vars, ctx) => {
    const answer = await ctx.elicit({
      message: "Password?",
      schema: z.object({ password: z.string() }),
    });
    return answer.content?.password === "open sesame" ? "welcome" : "go away";
  });
  mcp.prompt("poem", { args: z.object({ about: z.string() }) }, async ({ about }, ctx) => {
    const roots = await ctx.listRoots();
    return [{ role: "user", content: `A poem about ${about} in ${roots[0]?.uri}` }];
  });
  return mcp;
}

const answers: Record<string, Json> = {
  "Name for cats?": { name: "Tom" },
  "Name?": { name: "Ada" },
  "Age?": { age: 3 },
  "Password?": { password: "open sesame" },
};

describe.each(MODERN_MODES)("$name", (mode) => {
  async function connect(options: Parameters<typeof client>[0] = {}, replies = false) {
    const recorder = recordingFetch({ replies });
    const made = client(options);
    await made.client.connect(await serve(askingServer(), mode.options()), {
      fetch: recorder.fetch,
    });
    open.push(made.client);
    return { ...made, calls: recorder.calls };
  }

  const elicitation = (asked: ElicitationRequest[]) => (request: ElicitationRequest) => {
    asked.push(request);
    return { action: "accept" as const, content: answers[request.message] ?? {} };
  };

  it("a tool that asks twice in a row: two rounds, each retry with a new id and the state", async () => {
    const asked: ElicitationRequest[] = [];
    const {
      client: c,
      calls,
      warnings,
    } = await connect({ handlers: { elicitation: elicitation(asked) } }, true);
    const result = await c.callTool("ask_twice", { topic: "cats" });
    expect(text(result)).toBe("cats: Tom is 3");
    expect(result).not.toHaveProperty("resultType");
    expect(asked.map((request) => request.message)).toEqual(["Name for cats?", "Age?"]);
    expect(asked[0]).toMatchObject({
      mode: "form",
      requestedSchema: { type: "object", properties: { name: { type: "string" } } },
    });

    const rounds = calls.filter((call) => bodyOf(call).method === "tools/call");
    expect(rounds).toHaveLength(3);
    const ids = rounds.map((call) => bodyOf(call).id);
    expect(new Set(ids).size).toBe(3);
    for (const [i, call] of rounds.entries()) {
      const params = bodyOf(call).params as Json;
      expect(params).toMatchObject({ name: "ask_twice", arguments: { topic: "cats" } });
      expect(call.headers.get("mcp-name")).toBe("ask_twice");
      if (i === 0) {
        expect(params).not.toHaveProperty("requestState");
        expect(params).not.toHaveProperty("inputResponses");
        continue;
      }
      // The retry answers exactly what the previous round asked, and echoes its state.
      const previous = (await replyOf(rounds[i - 1]!)).result as Json;
      expect(previous.resultType).toBe("input_required");
      expect(params.requestState).toBe(previous.requestState);
      const keys = Object.keys(previous.inputRequests as Json);
      expect(Object.keys(params.inputResponses as Json)).toEqual(keys);
    }
    expect(warnings).toEqual([]);
  });

  it("a tool that asks twice at once: one round, both handlers running together", async () => {
    const bothAsked = deferred();
    let running = 0;
    const { client: c, calls } = await connect({
      handlers: {
        elicitation: async (request) => {
          // Each answer waits for the other question: answered one by one, this never ends.
          if (++running === 2) bothAsked.resolve();
          await bothAsked.promise;
          return { action: "accept", content: answers[request.message] ?? {} };
        },
      },
    });
    expect(text(await c.callTool("ask_together"))).toBe("Ada is 3");
    expect(methodsOf(calls).filter((method) => method === "tools/call")).toHaveLength(2);
    const retry = bodyOf(calls.filter((call) => bodyOf(call).method === "tools/call")[1]!);
    expect(Object.keys((retry.params as Json).inputResponses as Json)).toHaveLength(2);
  });

  it("a resource that asks for input is read through its rounds", async () => {
    const asked: ElicitationRequest[] = [];
    const { client: c } = await connect({ handlers: { elicitation: elicitation(asked) } });
    const read = await c.readResource("secret://door");
    expect(read.contents[0]).toMatchObject({ text: "welcome" });
    expect(read).not.toHaveProperty("resultType");
    expect(asked).toHaveLength(1);
  });

  it("a prompt that asks for roots gets them, with the key of the input request", async () => {
    const extras: HandlerExtra[] = [];
    const { client: c } = await connect({
      handlers: {
        roots: (extra) => {
          extras.push(extra);
          return [{ uri: "file:///home/ada", name: "home" }];
        },
      },
    });
    const prompt = await c.getPrompt("poem", { about: "the sea" });
    expect(prompt.messages).toEqual([
      { role: "user", content: { type: "text", text: "A poem about the sea in file:///home/ada" } },
    ]);
    expect(extras).toHaveLength(1);
    expect(typeof extras[0]!.requestId).toBe("string");
    expect(extras[0]!.signal.aborted).toBe(false);
  });

  it("sampling and roots of our rich server go through the same handlers", async () => {
    const { mcp } = richServer();
    const made = client({
      handlers: {
        sampling: (params) => ({
          role: "assistant",
          content: { type: "text", text: `${params.maxTokens} tokens` },
          model: "test-model",
        }),
        roots: () => [{ uri: "file:///a" }, { uri: "file:///b" }],
      },
    });
    await made.client.connect(await serve(mcp, mode.options()));
    open.push(made.client);
    expect(made.client.protocolVersion).toBe("2026-07-28");
    expect(text(await made.client.callTool("sample", { prompt: "hi" }))).toBe(
      "test-model said 50 tokens",
    );
    expect(text(await made.client.callTool("roots"))).toBe("file:///a,file:///b");
  });

  it("without the handler, the server refuses for the missing capability", async () => {
    const { client: c } = await connect();
    const error = await c.callTool("ask_together").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32021);
  });

  it("what a handler throws reaches the caller as it is", async () => {
    const { client: c } = await connect({
      handlers: {
        elicitation: () => {
          throw new Error("the user walked away");
        },
      },
    });
    await expect(c.callTool("ask_together")).rejects.toThrow("the user walked away");
  });

  it("aborting the call while a handler waits ends the call and the handler's signal", async () => {
    const controller = new AbortController();
    const handlerSignal = deferred<AbortSignal>();
    const { client: c } = await connect({
      handlers: {
        elicitation: (_request, extra) => {
          handlerSignal.resolve(extra.signal);
          return new Promise(() => {});
        },
      },
    });
    const call = c.callTool("ask_together", {}, { signal: controller.signal });
    const signal = await handlerSignal.promise;
    controller.abort(new Error("never mind"));
    await expect(call).rejects.toThrow("never mind");
    expect(signal.aborted).toBe(true);
  });
});

describe("hostile and unusual servers", () => {
  /** A 2026-07-28 fake whose tools/call answers as `call` says. */
  async function modernFake(call: (request: FakeRequest, round: number) => Json | Response) {
    let round = 0;
    const fake = await fakeServer((request) => {
      if (request.method === "server/discover") return discoverResult();
      if (request.method === "tools/call") return call(request, round++);
      return undefined;
    });
    const calls = () => fake.requests.filter((request) => request.method === "tools/call");
    return { ...fake, calls };
  }

  it("a server that asks for input forever is stopped after maxInputRounds", async () => {
    const fake = await modernFake(() => ({
      resultType: "input_required",
      inputRequests: { again: { method: "elicitation/create", params: { message: "More?" } } },
      requestState: "still-not-enough",
    }));
    let asked = 0;
    const handlers = {
      elicitation: () => {
        asked++;
        return { action: "accept" as const, content: {} };
      },
    };
    const { client: c } = client({ handlers, maxInputRounds: 3 });
    await c.connect(fake.url);
    open.push(c);
    const error = await c.callTool("loop").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: "ERR_INPUT_ROUNDS" });
    expect(fake.calls()).toHaveLength(4);
    expect(asked).toBe(3);

    const { client: d } = client({ handlers });
    await d.connect(fake.url);
    open.push(d);
    await expect(d.callTool("loop")).rejects.toMatchObject({ code: "ERR_INPUT_ROUNDS" });
    // The default bound: 8 rounds answered, the 9th reply refused.
    expect(fake.calls()).toHaveLength(4 + 9);
  });

  it("input the client never declared fails the call with ERR_INPUT_REQUEST", async () => {
    const fake = await modernFake(() => ({
      resultType: "input_required",
      inputRequests: { where: { method: "roots/list", params: {} } },
    }));
    const { client: c } = client({ handlers: { elicitation: () => ({ action: "decline" }) } });
    await c.connect(fake.url);
    open.push(c);
    const error = await c.callTool("nosy").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: "ERR_INPUT_REQUEST" });
    expect((error as Error).message).toContain("roots/list");
    expect(fake.calls()).toHaveLength(1);
  });

  it("state without input requests (load shedding) is retried at once, echoed, answers none", async () => {
    const fake = await modernFake((_request, round) =>
      round === 0
        ? { resultType: "input_required", requestState: "come back" }
        : { resultType: "complete", content: [{ type: "text", text: "served" }] },
    );
    const { client: c } = client();
    await c.connect(fake.url);
    open.push(c);
    expect(text(await c.callTool("busy"))).toBe("served");
    const retry = fake.calls()[1]!.message.params as Json;
    expect(retry.requestState).toBe("come back");
    expect(retry).not.toHaveProperty("inputResponses");
  });

  it("a resultType the client does not know is an error; none at all is complete", async () => {
    const fake = await modernFake((_request, round) =>
      round === 0
        ? { resultType: "something_new", content: [] }
        : { content: [{ type: "text", text: "old style" }] },
    );
    const { client: c } = client();
    await c.connect(fake.url);
    open.push(c);
    await expect(c.callTool("odd")).rejects.toMatchObject({ code: "ERR_RESULT_TYPE" });
    expect(text(await c.callTool("odd"))).toBe("old style");

    const { client: strict } = client({ strict: { contract: true } });
    await strict.connect(fake.url);
    open.push(strict);
    await expect(strict.callTool("odd")).rejects.toMatchObject({ code: "ERR_CONTRACT" });
  });

  it("input asked for in reply to a request that cannot take any is a contract breach", async () => {
    const fake = await fakeServer((request) => {
      if (request.method === "server/discover") return discoverResult();
      if (request.method === "tools/list") {
        return {
          resultType: "input_required",
          inputRequests: { x: { method: "elicitation/create", params: { message: "?" } } },
        };
      }
      return undefined;
    });
    const { client: c } = client({ handlers: { elicitation: () => ({ action: "decline" }) } });
    await c.connect(fake.url);
    open.push(c);
    await expect(c.listTools()).rejects.toMatchObject({ code: "ERR_CONTRACT" });
  });
});
