/**
 * 2025 sessions shared by several instances through a Store and a Bus: two transports in
 * this process, each with its own McpServer, sharing a memoryStore, a memoryBus and an event
 * store. The Redis suites (test/redis) run the same seam across processes.
 */
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { type Context, McpServer, memoryBus } from "../../src/index.ts";
import { memoryStore, type Store, StoreUnavailableError } from "../../src/storage/index.ts";
import { until } from "../helpers/async.ts";
import { modernPost } from "./modern-support.ts";
import {
  deferred,
  initSession,
  type Json,
  openGet,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
  watchedEventStore,
} from "./support.ts";

/** Gates a test opens to step the tools, by name, shared by both instances. */
function gates() {
  const all = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const get = (name: string) => {
    let gate = all.get(name);
    if (!gate) all.set(name, (gate = deferred()));
    return gate;
  };
  return { wait: (name: string) => get(name).promise, open: (name: string) => get(name).resolve() };
}

type Gates = ReturnType<typeof gates>;

function build(gate: Gates, aborted: string[]) {
  const mcp = new McpServer({ name: "shared", version: "1.0.0" });
  mcp.tool("log", { input: z.object({ text: z.string() }) }, ({ text }, ctx) => {
    ctx.log.debug(`debug ${text}`);
    ctx.log.warning(`warning ${text}`);
    return "logged";
  });
  mcp.tool("steps", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
    ctx.log.info("step 1");
    await gate.wait(`${key}:1`);
    ctx.log.info("step 2");
    await gate.wait(`${key}:2`);
    return "stepped";
  });
  mcp.tool("ask", {}, async (_args, ctx: Context) => {
    const answer = await ctx.elicit({ message: "Name?", schema: z.object({ name: z.string() }) });
    return answer.action === "accept" ? `hello ${answer.content.name}` : answer.action;
  });
  mcp.tool("wait", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener("abort", () => {
        aborted.push(key);
        resolve();
      });
      void gate.wait(key).then(resolve);
    });
    return "waited";
  });
  mcp.tool("touch", { input: z.object({ uri: z.string() }) }, ({ uri }) => {
    mcp.resourceUpdated(uri);
    return "touched";
  });
  mcp.resource("notes://{id}", {}, ({ id }) => `note ${id}`);
  return mcp;
}

/** Two instances behind one "load balancer": the test picks the instance per request. */
async function cluster(options: { jsonResponse?: boolean } = {}) {
  const gate = gates();
  const aborted: string[] = [];
  const store = memoryStore();
  const bus = memoryBus();
  const eventStore = watchedEventStore();
  const servers = [build(gate, aborted), build(gate, aborted)];
  const [a, b] = await Promise.all(
    servers.map((mcp) =>
      start(mcp, { sessions: { store, bus }, eventStore, keepAliveMs: 0, ...options }),
    ),
  );
  return { a: a!, b: b!, servers, gate, aborted, store, eventStore };
}

const logData = (message: Json) =>
  message.method === "notifications/message" ? (message.params as Json).data : undefined;

describe("sessions shared through a Store", () => {
  it("serves a session opened on one instance from another", async () => {
    const { a, b } = await cluster();
    const { id } = await initSession(a);
    const response = await post(b, toolCall(1, "log", { text: "x" }), sessionHeaders(id));
    expect(response.status).toBe(200);
    const messages = await new SseReader(response).messages();
    expect(messages.at(-1)).toMatchObject({ id: 1, result: { content: [{ text: "logged" }] } });
    const unknown = await post(
      b,
      toolCall(2, "log", { text: "x" }),
      sessionHeaders("f".repeat(32)),
    );
    expect(unknown.status).toBe(404);
  });

  it("carries the log level set on one instance to requests served by another", async () => {
    const { a, b } = await cluster();
    const { id } = await initSession(a);
    const headers = sessionHeaders(id);
    // Read once on B, so B holds a copy that the change on A must refresh.
    await (await post(b, toolCall(1, "log", { text: "warm" }), headers)).text();
    const set = await post(
      a,
      { jsonrpc: "2.0", id: 2, method: "logging/setLevel", params: { level: "warning" } },
      headers,
    );
    expect(set.status).toBe(200);
    await set.text();
    const messages = await new SseReader(
      await post(b, toolCall(3, "log", { text: "y" }), headers),
    ).messages();
    expect(messages.map(logData).filter(Boolean)).toEqual(["warning y"]);
  });

  it("delivers resource updates raised on one instance to the GET stream open on another", async () => {
    const { a, b } = await cluster();
    const { id } = await initSession(a);
    const headers = sessionHeaders(id);
    await (
      await post(
        b,
        { jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "notes://1" } },
        headers,
      )
    ).text();
    const get = new SseReader(await openGet(a, id));
    await (await post(b, toolCall(2, "touch", { uri: "notes://2" }), headers)).text();
    await (await post(b, toolCall(3, "touch", { uri: "notes://1" }), headers)).text();
    const update = await get.message();
    expect(update).toEqual({
      jsonrpc: "2.0",
      method: "notifications/resources/updated",
      params: { uri: "notes://1" },
    });
    await get.cancel();
  });

  it("delivers list changes made on one instance to GET streams and 2026 listeners on another", async () => {
    const { a, b, servers } = await cluster();
    const { id } = await initSession(a);
    const get = new SseReader(await openGet(a, id));
    const listen = await modernPost(a, "sub", "subscriptions/listen", {
      notifications: { toolsListChanged: true },
    });
    const subscription = new SseReader(listen);
    await subscription.message(); // acknowledgement
    expect(b).toBeTruthy();
    servers[1]!.tool("extra", {}, () => "extra");
    expect(await get.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
    });
    expect(await subscription.message()).toMatchObject({
      method: "notifications/tools/list_changed",
    });
    await get.cancel();
    await subscription.cancel();
  });

  it("ends a session everywhere on DELETE", async () => {
    const { a, b } = await cluster();
    const { id } = await initSession(a);
    await (await post(b, toolCall(1, "log", { text: "x" }), sessionHeaders(id))).text();
    const deleted = await fetch(a, { method: "DELETE", headers: sessionHeaders(id) });
    expect(deleted.status).toBe(200);
    const after = await post(b, toolCall(2, "log", { text: "x" }), sessionHeaders(id));
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({
      error: { message: expect.stringContaining("ended") },
    });
  });

  it("routes the answer to a server-to-client request posted to another instance", async () => {
    const { a, b } = await cluster();
    const { id } = await initSession(a, "2025-11-25", { elicitation: { form: {} } });
    const headers = sessionHeaders(id);
    const reader = new SseReader(await post(a, toolCall(1, "ask"), headers));
    const request = await reader.until((m) => m.method === "elicitation/create");
    const answered = await post(
      b,
      { jsonrpc: "2.0", id: request.id, result: { action: "accept", content: { name: "Ada" } } },
      headers,
    );
    expect(answered.status).toBe(202);
    expect(await reader.until((m) => m.id === 1)).toMatchObject({
      result: { content: [{ text: "hello Ada" }] },
    });
  });

  it("carries a cancellation posted to another instance to the running request", async () => {
    const { a, b, aborted } = await cluster();
    const { id } = await initSession(a);
    const headers = sessionHeaders(id);
    const running = post(a, toolCall(7, "wait", { key: "w" }), headers);
    // The request is running on A once its reply stream is open.
    expect((await running).status).toBe(200);
    const cancel = await post(
      b,
      {
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: 7, reason: "changed my mind" },
      },
      headers,
    );
    expect(cancel.status).toBe(202);
    // The other instance hears of it over the Bus, a little later.
    await vi.waitFor(() => expect(aborted).toEqual(["w"]), { timeout: 3_000 });
  });

  it("resumes on another instance a stream the first one still runs: replay, then live", async () => {
    const { a, b, gate, eventStore } = await cluster();
    const { id } = await initSession(a);
    const headers = sessionHeaders(id);
    const controller = new AbortController();
    const first = new SseReader(
      await post(a, toolCall(1, "steps", { key: "r" }), headers, controller.signal),
    );
    const priming = await first.event();
    expect(priming?.data).toBe("");
    const step1 = await first.event();
    expect(logData(step1!.message!)).toBe("step 1");
    controller.abort();
    gate.open("r:1");
    // Step 2 is sent while no client is connected: only the store has it.
    await until(() =>
      eventStore.appended.some((message) => logData(message as unknown as Json) === "step 2"),
    );
    const resumed = await openGet(b, id, { "last-event-id": priming!.id! });
    expect(resumed.status).toBe(200);
    const reader = new SseReader(resumed);
    expect(logData(await reader.message())).toBe("step 1");
    expect(logData(await reader.message())).toBe("step 2");
    gate.open("r:2");
    expect(await reader.message()).toMatchObject({
      id: 1,
      result: { content: [{ text: "stepped" }] },
    });
    expect(await reader.event()).toBeUndefined();
  });

  it("resumes on another instance a stream that finished: the stored events", async () => {
    const { a, b, gate } = await cluster();
    const { id } = await initSession(a);
    gate.open("f:1");
    gate.open("f:2");
    const events = await new SseReader(
      await post(a, toolCall(1, "steps", { key: "f" }), sessionHeaders(id)),
    ).events();
    const resumed = await new SseReader(
      await openGet(b, id, { "last-event-id": events[0]!.id! }),
    ).messages();
    expect(resumed.map((m) => logData(m) ?? ("result" in m ? "result" : "?"))).toEqual([
      "step 1",
      "step 2",
      "result",
    ]);
  });

  it("keeps subscriptions made at the same time on two instances", async () => {
    const { a, b, store } = await cluster();
    const { id } = await initSession(a);
    const headers = sessionHeaders(id);
    const subscribe = (url: string, n: number) =>
      post(
        url,
        { jsonrpc: "2.0", id: n, method: "resources/subscribe", params: { uri: `notes://${n}` } },
        headers,
      ).then((r) => r.text());
    await Promise.all([subscribe(a, 1), subscribe(b, 2), subscribe(a, 3), subscribe(b, 4)]);
    const record = await store.get<{ s?: string[] }>(`mcp:session:${id}`);
    expect(record?.s).toEqual(["notes://1", "notes://2", "notes://3", "notes://4"]);
  });

  it("moves the GET stream: opening it on another instance ends the first", async () => {
    const { a, b } = await cluster();
    const { id } = await initSession(a);
    const first = new SseReader(await openGet(a, id));
    expect((await first.event())?.data).toBe("");
    const second = await openGet(b, id);
    expect(second.status).toBe(200);
    expect(await first.event()).toBeUndefined();
    await second.body?.cancel();
  });

  it("hands a relayed stream back when the client returns to the instance that runs it", async () => {
    const { a, b, gate } = await cluster();
    const { id } = await initSession(a);
    const controller = new AbortController();
    const first = new SseReader(
      await post(a, toolCall(1, "steps", { key: "back" }), sessionHeaders(id), controller.signal),
    );
    const priming = await first.event();
    await first.message();
    controller.abort();
    const onB = new SseReader(await openGet(b, id, { "last-event-id": priming!.id! }));
    expect(logData(await onB.message())).toBe("step 1");
    const onA = new SseReader(await openGet(a, id, { "last-event-id": priming!.id! }));
    // One connection per stream: the one on B ends once A has the client back.
    expect(await onB.event()).toBeUndefined();
    expect(logData(await onA.message())).toBe("step 1");
    gate.open("back:1");
    gate.open("back:2");
    expect(logData(await onA.message())).toBe("step 2");
    expect(await onA.message()).toMatchObject({
      id: 1,
      result: { content: [{ text: "stepped" }] },
    });
  });
});

describe("shared state that cannot be reached", () => {
  /** A Store whose every operation fails as an unreachable engine does. */
  const down: Store = new Proxy({} as Store, {
    get: () => () => Promise.reject(new StoreUnavailableError("engine down")),
  });

  it("answers 503 with Retry-After and a JSON-RPC error, never a guess", async () => {
    const url = await start(build(gates(), []), { sessions: { store: down } });
    for (const response of [
      await post(url, {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "t", version: "1" },
        },
      }),
      await post(url, toolCall(1, "log", { text: "x" }), sessionHeaders("a".repeat(32))),
      await openGet(url, "b".repeat(32)),
      await fetch(url, { method: "DELETE", headers: sessionHeaders("c".repeat(32)) }),
    ]) {
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("2");
      expect(await response.json()).toMatchObject({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32000, message: expect.stringContaining("Service Unavailable") },
      });
    }
  });

  it("serves stateless 2026-07-28 requests without touching the Store", async () => {
    const url = await start(build(gates(), []), { sessions: { store: down } });
    const response = await modernPost(url, 1, "tools/call", {
      name: "log",
      arguments: { text: "x" },
    });
    expect(response.status).toBe(200);
  });
});
