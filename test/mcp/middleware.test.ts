/**
 * The middleware seam: `mcp.use` wraps every request in both eras and on every transport;
 * `mcp.onError` maps errors thrown past the handlers; `ctx.meta` reaches handlers.
 */
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpClient } from "../../src/client/index.ts";
import { inMemoryTransport } from "../../src/client/memory.ts";
import {
  type AuthInfo,
  ErrorCode,
  McpError,
  McpServer,
  type Middleware,
  type MiddlewareContext,
  Peer,
} from "../../src/index.ts";
import { serveStdio } from "../../src/node/index.ts";
import { until } from "../helpers/async.ts";
import { messagesOf, sseMessages } from "../helpers/http.ts";
import { errorOf, META, modernCall, modernPost, resultOf } from "../http/modern-support.ts";
import { initSession, post, sessionHeaders, start, toolCall } from "../http/support.ts";
import { channels, closeChannels, reply, request } from "./channel-support.ts";
import { call, error, exchange, result } from "./support.ts";

type Json = Record<string, unknown>;

function server(): McpServer {
  const mcp = new McpServer({ name: "pipeline", version: "1.0.0" });
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => `echo: ${text}`);
  mcp.tool("fail", {}, () => {
    throw new McpError(ErrorCode.InvalidParams, "fail on purpose");
  });
  return mcp;
}

const clients: McpClient[] = [];
afterEach(async () => {
  closeChannels();
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

describe("mcp.use", () => {
  it("runs middleware in registration order, as an onion around the handler", async () => {
    const mcp = server();
    const trace: string[] = [];
    mcp.tool("traced", {}, () => {
      trace.push("handler");
      return "done";
    });
    for (const name of ["a", "b", "c"]) {
      mcp.use(async (_ctx, next) => {
        trace.push(`${name} in`);
        await next();
        trace.push(`${name} out`);
      });
    }
    await result(mcp, "tools/call", { name: "traced" });
    expect(trace).toEqual(["a in", "b in", "c in", "handler", "c out", "b out", "a out"]);
  });

  it("runs a middleware only for the requests its `when` admits, asked per request", async () => {
    const mcp = server();
    const trace: string[] = [];
    let on = true;
    const step =
      (name: string): Middleware =>
      async (ctx, next) => {
        trace.push(`${name} ${ctx.method}`);
        await next();
      };
    mcp.use(step("outer"));
    mcp.use(step("calls"), { when: (ctx) => ctx.method === "tools/call" });
    mcp.use(step("switch"), { when: () => on });
    mcp.use(step("inner"));
    await result(mcp, "tools/list");
    await result(mcp, "tools/call", { name: "echo", arguments: { text: "x" } });
    on = false;
    expect(await result(mcp, "tools/call", { name: "echo", arguments: { text: "y" } })).toEqual({
      content: [{ type: "text", text: "echo: y" }],
    });
    expect(trace).toEqual([
      "outer tools/list",
      "switch tools/list",
      "inner tools/list",
      "outer tools/call",
      "calls tools/call",
      "switch tools/call",
      "inner tools/call",
      "outer tools/call",
      "calls tools/call",
      "inner tools/call",
    ]);
  });

  it("short-circuits: a result returned without next() is the answer, the handler never runs", async () => {
    const mcp = server();
    let ran = false;
    mcp.tool("guarded", {}, () => {
      ran = true;
      return "handler";
    });
    const later: string[] = [];
    mcp.use((ctx) => {
      if (ctx.name === "guarded") return { content: [{ type: "text", text: "cached" }] };
    });
    mcp.use(async (_ctx, next) => {
      later.push("second");
      return next();
    });
    expect(await result(mcp, "tools/call", { name: "guarded" })).toEqual({
      content: [{ type: "text", text: "cached" }],
    });
    expect(ran).toBe(false);
    expect(later).toEqual([]);
  });

  it("refuses with an McpError thrown before next(): a JSON-RPC error, the handler never runs", async () => {
    const mcp = server();
    let ran = false;
    mcp.tool("limited", {}, () => {
      ran = true;
      return "ran";
    });
    mcp.use((ctx, next) => {
      if (ctx.name === "limited") throw new McpError(-32029, "Rate limited", { retryAfter: 2 });
      return next();
    });
    expect(await error(mcp, "tools/call", { name: "limited" })).toEqual({
      code: -32029,
      message: "Rate limited",
      data: { retryAfter: 2 },
    });
    expect(ran).toBe(false);
  });

  it("rewrites the result after next()", async () => {
    const mcp = server();
    mcp.use(async (ctx, next) => {
      const result = await next();
      if (ctx.method !== "tools/call") return;
      return { ...result, structuredContent: { rewritten: true } };
    });
    expect(await result(mcp, "tools/call", { name: "echo", arguments: { text: "hi" } })).toEqual({
      content: [{ type: "text", text: "echo: hi" }],
      structuredContent: { rewritten: true },
    });
  });

  it("sees the error of next() and may map it to another", async () => {
    const mcp = server();
    const seen: unknown[] = [];
    mcp.use(async (ctx, next) => {
      try {
        return await next();
      } catch (thrown) {
        seen.push(ctx.error === thrown, (thrown as McpError).code);
        throw new McpError(ErrorCode.InternalError, "mapped", { from: (thrown as McpError).code });
      }
    });
    expect(await error(mcp, "tools/call", { name: "fail" })).toEqual({
      code: ErrorCode.InternalError,
      message: "mapped",
      data: { from: ErrorCode.InvalidParams },
    });
    expect(seen).toEqual([true, ErrorCode.InvalidParams]);
  });

  it("keeps internals out of the reply when a middleware throws something else", async () => {
    const mcp = server();
    mcp.use(() => {
      throw new Error("database password is hunter2");
    });
    const answer = await error(mcp, "tools/call", { name: "echo", arguments: { text: "x" } });
    expect(answer).toMatchObject({ code: ErrorCode.InternalError, message: "Internal error" });
    // Only a correlation id for the server's log travels, never the thrown message.
    expect(JSON.stringify(answer)).not.toContain("hunter2");
  });

  it("wraps unknown methods too: next() throws method not found", async () => {
    const mcp = server();
    const seen: unknown[] = [];
    mcp.use(async (ctx, next) => {
      try {
        return await next();
      } finally {
        seen.push(ctx.method, (ctx.error as McpError | undefined)?.code);
      }
    });
    expect((await error(mcp, "no/such")).code).toBe(ErrorCode.MethodNotFound);
    expect(seen).toEqual(["no/such", ErrorCode.MethodNotFound]);
  });

  it("answers an internal error when a middleware neither calls next() nor returns", async () => {
    const mcp = server();
    mcp.use(() => undefined);
    expect(await error(mcp, "tools/call", { name: "echo", arguments: { text: "x" } })).toEqual({
      code: ErrorCode.InternalError,
      message: "Internal error",
    });
  });

  it("refuses a second next() from one middleware", async () => {
    const mcp = server();
    let calls = 0;
    mcp.tool("count", {}, () => `${++calls}`);
    mcp.use(async (_ctx, next) => {
      await next();
      return next();
    });
    expect((await error(mcp, "tools/call", { name: "count" })).code).toBe(ErrorCode.InternalError);
    expect(calls).toBe(1);
  });
});

describe("mcp.onError", () => {
  it("maps an error thrown past the handlers and middleware", async () => {
    const mcp = server();
    const logged: unknown[] = [];
    mcp.use(() => {
      throw new TypeError("boom");
    });
    mcp.onError((thrown, ctx) => {
      logged.push(ctx.method, (thrown as Error).message);
      return new McpError(ErrorCode.InternalError, "Internal error", { incident: "42" });
    });
    expect(await error(mcp, "tools/call", { name: "echo", arguments: { text: "x" } })).toEqual({
      code: ErrorCode.InternalError,
      message: "Internal error",
      data: { incident: "42" },
    });
    expect(logged).toEqual(["tools/call", "boom"]);
  });

  it("keeps the default answer when it returns nothing or fails itself", async () => {
    const mcp = server();
    let seen = 0;
    mcp.onError(() => {
      seen++;
    });
    expect(await error(mcp, "tools/call", { name: "fail" })).toEqual({
      code: ErrorCode.InvalidParams,
      message: "fail on purpose",
    });
    mcp.onError(() => {
      throw new Error("the logger is down");
    });
    expect((await error(mcp, "tools/call", { name: "fail" })).code).toBe(ErrorCode.InvalidParams);
    expect(seen).toBe(1);
  });

  it("does not see a tool's own failure, which is a result with isError", async () => {
    const mcp = server();
    let seen = 0;
    mcp.tool("broken", {}, () => {
      throw new Error("tool failed");
    });
    mcp.onError(() => {
      seen++;
    });
    const answer = await result(mcp, "tools/call", { name: "broken" });
    expect(answer.isError).toBe(true);
    expect(seen).toBe(0);
  });
});

describe("ctx.meta", () => {
  it("gives handlers the request's _meta", async () => {
    const mcp = server();
    let meta: unknown;
    mcp.tool("meta", {}, (_args, ctx) => {
      meta = ctx.meta;
      return "ok";
    });
    await result(mcp, "tools/call", { name: "meta", _meta: { "example.com/trace": "t-1" } });
    expect(meta).toEqual({ "example.com/trace": "t-1" });
    await result(mcp, "tools/call", { name: "meta" });
    expect(meta).toBeUndefined();
  });
});

/** What one middleware records of a tools/call, whatever carried it. */
interface Seen {
  method: string;
  name: string | undefined;
  arguments: unknown;
  era: string;
  protocolVersion: string;
  trace: unknown;
  result: unknown;
}

function observer(): { middleware: Middleware; seen: Seen[] } {
  const seen: Seen[] = [];
  const middleware: Middleware = async (ctx: MiddlewareContext, next) => {
    if (ctx.method !== "tools/call") return next();
    const result = await next();
    seen.push({
      method: ctx.method,
      name: ctx.name,
      arguments: ctx.arguments,
      era: ctx.era,
      protocolVersion: ctx.protocolVersion,
      trace: ctx.meta?.["example.com/trace"],
      result: ctx.result === result ? result.content : "differs",
    });
  };
  return { middleware, seen };
}

describe("one middleware, every transport and both eras", () => {
  const expected = (era: string, protocolVersion: string): Seen => ({
    method: "tools/call",
    name: "echo",
    arguments: { text: "hi" },
    era,
    protocolVersion,
    trace: "t-1",
    result: [{ type: "text", text: "echo: hi" }],
  });

  it("sees the same tools/call over HTTP 2025-11-25 and 2026-07-28", async () => {
    const mcp = server();
    const { middleware, seen } = observer();
    mcp.use(middleware);
    const url = await start(mcp, { sessions: true });

    const session = await initSession(url, "2025-11-25");
    const legacy = await post(
      url,
      toolCall(2, "echo", { text: "hi" }, { "example.com/trace": "t-1" }),
      sessionHeaders(session.id),
    );
    const [reply] = (await messagesOf(legacy)) as { result: { content: unknown } }[];
    expect(reply?.result.content).toEqual([{ type: "text", text: "echo: hi" }]);

    const modern = await modernCall(
      url,
      3,
      "tools/call",
      { name: "echo", arguments: { text: "hi" } },
      { meta: { "example.com/trace": "t-1" } },
    );
    expect(resultOf(modern).content).toEqual([{ type: "text", text: "echo: hi" }]);

    expect(seen).toEqual([expected("session", "2025-11-25"), expected("stateless", "2026-07-28")]);
  });

  it("sees the same tools/call in memory (2026-07-28)", async () => {
    const mcp = server();
    const { middleware, seen } = observer();
    mcp.use(middleware);
    const client = new McpClient({ name: "memory", version: "1.0.0" });
    clients.push(client);
    await client.connect(inMemoryTransport(mcp));
    const answer = await client.callTool(
      "echo",
      { text: "hi" },
      { meta: { "example.com/trace": "t-1" } },
    );
    expect(answer.content).toEqual([{ type: "text", text: "echo: hi" }]);
    // The client prefers 2026-07-28, which in-memory channels serve too.
    expect(client.protocolVersion).toBe("2026-07-28");
    expect(seen).toEqual([expected("stateless", "2026-07-28")]);
  });

  it("sees the same tools/call over stdio (2025-11-25)", async () => {
    const mcp = server();
    const { middleware, seen } = observer();
    mcp.use(middleware);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const served = serveStdio(mcp, { stdin, stdout });
    const lines: { id?: number; result?: { content: unknown } }[] = [];
    let pending = "";
    stdout.setEncoding("utf8");
    const replied = new Promise<void>((resolve) => {
      stdout.on("data", (chunk: string) => {
        pending += chunk;
        for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
          const message = JSON.parse(pending.slice(0, end));
          lines.push(message);
          pending = pending.slice(end + 1);
          if (message.id === 2) resolve();
        }
      });
    });
    const send = (value: unknown) => stdin.write(`${JSON.stringify(value)}\n`);
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "stdio", version: "1" },
      },
    });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send(toolCall(2, "echo", { text: "hi" }, { "example.com/trace": "t-1" }));
    await replied;
    served.close();
    expect(lines.find((line) => line.id === 2)?.result?.content).toEqual([
      { type: "text", text: "echo: hi" },
    ]);
    expect(seen).toEqual([expected("session", "2025-11-25")]);
  });
});

describe("access rules as middleware", () => {
  const caller = (scopes: string[], kind: AuthInfo["kind"] = "user"): AuthInfo => ({
    kind,
    subject: "alice",
    clientId: "app",
    scopes,
  });

  function guarded(): McpServer {
    const mcp = server();
    mcp.tool("write", { scopes: ["notes:write"] }, () => "written");
    mcp.tool("admin", { scopes: ["admin"], userRequired: true }, () => "admin");
    return mcp;
  }

  it("refuses a verified caller without the tool's scopes with -32600 and data, before any middleware", async () => {
    const mcp = guarded();
    const seen: string[] = [];
    mcp.use(async (ctx, next) => {
      if (ctx.method === "tools/call") seen.push(ctx.name ?? "");
      return next();
    });
    const client = new McpClient({ name: "memory", version: "1.0.0" });
    clients.push(client);
    await client.connect(inMemoryTransport(mcp, { auth: caller(["notes:read"]) }));
    const refused = await client.callTool("write").catch((thrown: unknown) => thrown);
    expect(refused).toMatchObject({
      code: ErrorCode.InvalidRequest,
      data: { error: "insufficient_scope", requiredScopes: ["notes:write"] },
    });
    expect(seen).toEqual([]);
    expect((await client.callTool("echo", { text: "ok" })).content).toEqual([
      { type: "text", text: "echo: ok" },
    ]);
    expect(seen).toEqual(["echo"]);
  });

  it("refuses a client acting alone where a user is required", async () => {
    const mcp = guarded();
    const client = new McpClient({ name: "memory", version: "1.0.0" });
    clients.push(client);
    await client.connect(inMemoryTransport(mcp, { auth: caller(["admin"], "client") }));
    const refused = await client.callTool("admin").catch((thrown: unknown) => thrown);
    expect(refused).toMatchObject({
      code: ErrorCode.InvalidRequest,
      data: { error: "insufficient_user_authentication" },
    });
  });

  it("lets everything through where no caller was verified (stdio, an open endpoint)", async () => {
    const mcp = guarded();
    expect((await result(mcp, "tools/call", { name: "write" })).content).toEqual([
      { type: "text", text: "written" },
    ]);
    const denied = await call(
      mcp,
      "tools/call",
      { name: "write" },
      {
        peer: new Peer("2025-11-25"),
        auth: caller([]),
        notify: () => {},
        request: () => Promise.reject(new Error("none")),
      },
    );
    expect(denied && "error" in denied && denied.error.code).toBe(ErrorCode.InvalidRequest);
  });
});

describe("subscriptions/listen through the middleware", () => {
  const DENY = "example.com/deny";
  const LATE = "example.com/deny-after-next";

  /** Records each listen it sees and refuses those that ask, before or after next(). */
  function gatekeeper(): { middleware: Middleware; seen: unknown[] } {
    const seen: unknown[] = [];
    const middleware: Middleware = async (ctx, next) => {
      if (ctx.method !== "subscriptions/listen") return next();
      seen.push({ method: ctx.method, notifications: ctx.params.notifications, era: ctx.era });
      if (ctx.meta?.[DENY]) throw new McpError(ErrorCode.InvalidRequest, "listen refused");
      const acknowledged = await next();
      seen.push({ acknowledged });
      if (ctx.meta?.[LATE]) throw new McpError(ErrorCode.InvalidRequest, "refused after next");
    };
    return { middleware, seen };
  }

  /** Reads an SSE body until `count` messages arrived, then lets go of the stream. */
  async function firstMessages(response: Response, count: number): Promise<unknown[]> {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let messages: unknown[] = [];
    while (messages.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      messages = sseMessages(text);
    }
    await reader.cancel();
    return messages;
  }

  const filter = { toolsListChanged: true };

  it("over HTTP: sees the method and params, opens the stream, or refuses it with no stream", async () => {
    const mcp = server();
    const { middleware, seen } = gatekeeper();
    mcp.use(middleware);
    const url = await start(mcp);

    const open = await modernPost(url, 1, "subscriptions/listen", { notifications: filter });
    expect(open.headers.get("content-type")).toContain("text/event-stream");
    expect(await firstMessages(open, 1)).toMatchObject([
      {
        method: "notifications/subscriptions/acknowledged",
        params: { notifications: filter },
      },
    ]);

    for (const [id, flag] of [
      [2, DENY],
      [3, LATE],
    ] as const) {
      const refused = await modernCall(
        url,
        id,
        "subscriptions/listen",
        { notifications: filter },
        { meta: { [flag]: true } },
      );
      // The error is the whole reply: JSON, no acknowledgement, no stream.
      expect(refused.contentType).toContain("application/json");
      expect(refused.messages).toHaveLength(1);
      expect(errorOf(refused)).toMatchObject({ code: ErrorCode.InvalidRequest });
    }
    expect(seen).toEqual([
      { method: "subscriptions/listen", notifications: filter, era: "stateless" },
      { acknowledged: { notifications: filter } },
      { method: "subscriptions/listen", notifications: filter, era: "stateless" },
      { method: "subscriptions/listen", notifications: filter, era: "stateless" },
      { acknowledged: { notifications: filter } },
    ]);
  });

  for (const [name, connect] of Object.entries(channels)) {
    it(`${name}: the listener gets the refusal and no stream; an admitted one streams`, async () => {
      const mcp = server();
      const { middleware, seen } = gatekeeper();
      mcp.use(middleware);
      const channel = await connect(mcp);
      const listen = (id: number, meta: Record<string, unknown> = {}) => {
        const message = request(id, "subscriptions/listen", { notifications: filter });
        Object.assign((message.params as { _meta: object })._meta, meta);
        channel.send(message);
      };
      listen(1, { [DENY]: true });
      listen(2, { [LATE]: true });
      expect((await reply(channel, 1)).error).toMatchObject({ message: "listen refused" });
      expect((await reply(channel, 2)).error).toMatchObject({ message: "refused after next" });
      listen(3);
      await until(() => channel.received.some((m) => m.method !== undefined));

      mcp.tool("added", {}, () => "new");
      channel.send(request(4, "tools/list"));
      await reply(channel, 4);
      await until(() => channel.received.filter((m) => m.method !== undefined).length === 2);
      // Only the admitted subscription (id 3) ever sent anything.
      const tags = channel.received
        .filter((m) => m.method !== undefined)
        .map((m) => [m.method, ((m.params as Json)._meta as Json)[META.subscriptionId]]);
      expect(tags).toEqual([
        ["notifications/subscriptions/acknowledged", 3],
        ["notifications/tools/list_changed", 3],
      ]);
      expect(seen).toHaveLength(5);
    });
  }
  it("runs outermost and innermost middleware around a listen too", async () => {
    const mcp = server();
    const seen: string[] = [];
    const mark =
      (name: string): Middleware =>
      (ctx, next) => {
        seen.push(`${name}:${ctx.method}`);
        return next();
      };
    mcp.use(mark("inner"));
    mcp.use(mark("innermost"), { position: "innermost" });
    mcp.use(mark("outermost"), { position: "outermost" });
    const url = await start(mcp);
    const open = await modernPost(url, 1, "subscriptions/listen", { notifications: filter });
    expect(await firstMessages(open, 1)).toHaveLength(1);
    expect(seen).toEqual([
      "outermost:subscriptions/listen",
      "inner:subscriptions/listen",
      "innermost:subscriptions/listen",
    ]);
  });
});

describe("middleware positions", () => {
  it("puts outermost ones before the access rules and innermost ones next to the handler", async () => {
    const mcp = server();
    mcp.tool("write", { scopes: ["notes:write"] }, () => "written");
    const order: string[] = [];
    const named =
      (name: string): Middleware =>
      async (ctx, next) => {
        if (ctx.method !== "tools/call") return next();
        order.push(`${name} in`);
        try {
          return await next();
        } finally {
          order.push(`${name} out`);
        }
      };
    mcp.use(named("inner"));
    mcp.use(named("innermost"), { position: "innermost" });
    mcp.use(named("outermost"), { position: "outermost" });
    mcp.use(named("later inner"));
    await result(mcp, "tools/call", { name: "echo", arguments: { text: "x" } });
    expect(order).toEqual([
      "outermost in",
      "inner in",
      "later inner in",
      "innermost in",
      "innermost out",
      "later inner out",
      "inner out",
      "outermost out",
    ]);

    // A caller without the scope: refused by the access rules, which only the outermost sees.
    order.length = 0;
    const via = exchange();
    const refusedExchange = {
      ...via,
      auth: { kind: "user", subject: "alice", clientId: "app", scopes: [] } as AuthInfo,
    };
    const refused = await error(mcp, "tools/call", { name: "write" }, refusedExchange);
    expect(refused.code).toBe(ErrorCode.InvalidRequest);
    expect(order).toEqual(["outermost in", "outermost out"]);
  });

  it("gives middleware the request's 2025 session id", async () => {
    const mcp = server();
    const seen: (string | undefined)[] = [];
    mcp.use((ctx, next) => {
      seen.push(ctx.sessionId);
      return next();
    });
    await result(
      mcp,
      "tools/call",
      { name: "echo", arguments: { text: "x" } },
      exchange(new Peer("2025-11-25", "s-1")),
    );
    await result(mcp, "tools/call", { name: "echo", arguments: { text: "x" } });
    expect(seen).toEqual(["s-1", undefined]);
  });
});
