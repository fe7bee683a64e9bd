/** Resumable streams with an event store: priming, SSE polling, Last-Event-ID replay. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type Context, McpServer, memoryEventStore } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import {
  deferred,
  initSession,
  type Json,
  openGet,
  post,
  type SseEvent,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
  watchedEventStore,
} from "./support.ts";

/** Gates a test opens to step the tools, by name; made on first use from either side. */
function gates() {
  const all = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const get = (name: string) => {
    let gate = all.get(name);
    if (!gate) all.set(name, (gate = deferred()));
    return gate;
  };
  return { wait: (name: string) => get(name).promise, open: (name: string) => get(name).resolve() };
}

function server() {
  const mcp = new McpServer({ name: "resumability", version: "1.0.0" });
  const gate = gates();
  const contexts: Context[] = [];
  mcp.tool("quick", {}, () => "quick result");
  mcp.tool("poll", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
    ctx.log.info("before close");
    expect(ctx.closeConnection()).toBe(true);
    await gate.wait(key);
    ctx.log.info("after close");
    return "polled result";
  });
  mcp.tool("steps", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
    contexts.push(ctx);
    ctx.log.info("step 1");
    await gate.wait(`${key}:1`);
    ctx.log.info("step 2");
    ctx.log.info("step 3");
    await gate.wait(`${key}:2`);
    return "stepped";
  });
  return { mcp, gate, contexts };
}

async function resumable(options: { retryMs?: number } = {}) {
  const made = server();
  const eventStore = watchedEventStore();
  const url = await start(made.mcp, { sessions: true, eventStore, ...options });
  return { ...made, url, eventStore };
}

function logData(message: Json | undefined): unknown {
  return message?.method === "notifications/message" ? (message.params as Json).data : undefined;
}

/** What a list of events carried, as short labels: log data, "result", or "priming". */
function labels(events: SseEvent[]): unknown[] {
  return events.map((event) => {
    if (!event.message) return "priming";
    return logData(event.message) ?? ("result" in event.message ? "result" : event.message.method);
  });
}

function positions(events: SseEvent[]): number[] {
  return events.map((event) => Number(event.id!.slice(event.id!.lastIndexOf(".") + 1)));
}

describe("priming event", () => {
  it("opens a 2025-11-25 POST stream with an id, a retry hint and empty data", async () => {
    const { url } = await resumable();
    const { id } = await initSession(url);
    const response = await post(url, toolCall(1, "quick"), sessionHeaders(id));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = await new SseReader(response).events();
    expect(events).toHaveLength(2);
    const [priming, reply] = events;
    expect(priming!.id).toMatch(/\S/);
    expect(priming!.retry).toBe(1000);
    expect(priming!.data).toBe("");
    expect(reply!.message).toMatchObject({
      id: 1,
      result: { content: [{ text: "quick result" }] },
    });
    expect(reply!.id).toMatch(/\S/);
    expect(reply!.id).not.toBe(priming!.id);
  });

  it("suggests the configured retryMs", async () => {
    const { url } = await resumable({ retryMs: 250 });
    const { id } = await initSession(url);
    const events = await new SseReader(
      await post(url, toolCall(1, "quick"), sessionHeaders(id)),
    ).events();
    expect(events[0]).toMatchObject({ retry: 250, data: "" });
  });

  it.each(["2025-03-26", "2025-06-18"])("is not sent to a %s session", async (version) => {
    const { url } = await resumable();
    const { id } = await initSession(url, version);
    const events = await new SseReader(
      await post(url, toolCall(1, "quick"), sessionHeaders(id, version)),
    ).events();
    expect(events).toHaveLength(1);
    expect(events[0]!.data).not.toBe("");
    expect(events[0]!.message).toMatchObject({ id: 1, result: {} });
    // The stream is still resumable: its events carry ids.
    expect(events[0]!.id).toMatch(/\S/);
  });

  it("is not sent without sessions, even with an event store", async () => {
    const { mcp } = server();
    const url = await start(mcp, { eventStore: memoryEventStore() });
    const events = await new SseReader(await post(url, toolCall(1, "quick"))).events();
    expect(events).toHaveLength(1);
    expect(events[0]!.id).toBeUndefined();
    expect(events[0]!.message).toMatchObject({ id: 1, result: {} });
  });

  it("is not sent without an event store", async () => {
    const { mcp } = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const events = await new SseReader(
      await post(url, toolCall(1, "quick"), sessionHeaders(id)),
    ).events();
    expect(labels(events)).toEqual(["result"]);
    expect(events[0]!.id).toBeUndefined();
  });
});

describe("SSE polling with ctx.closeConnection()", () => {
  it("ends the POST stream without the result; resuming from the priming id delivers it", async () => {
    const { url, gate } = await resumable();
    const { id } = await initSession(url);
    const headers = sessionHeaders(id);
    const first = await new SseReader(
      await post(url, toolCall(1, "poll", { key: "a" }), headers),
    ).events();
    expect(labels(first)).toEqual(["priming", "before close"]);
    gate.open("a");
    const resumed = await openGet(url, id, { "last-event-id": first[0]!.id! });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get("content-type")).toContain("text/event-stream");
    const rest = await new SseReader(resumed).events();
    expect(labels(rest)).toEqual(["before close", "after close", "result"]);
    expect(rest.at(-1)!.message).toMatchObject({
      id: 1,
      result: { content: [{ text: "polled result" }] },
    });
  });

  it("carries on live when the client resumes before the tool finished", async () => {
    const { url, gate } = await resumable();
    const { id } = await initSession(url);
    const headers = sessionHeaders(id);
    const first = await new SseReader(
      await post(url, toolCall(1, "poll", { key: "b" }), headers),
    ).events();
    expect(labels(first)).toEqual(["priming", "before close"]);
    const lastSeen = first.at(-1)!.id!;
    const reader = new SseReader(await openGet(url, id, { "last-event-id": lastSeen }));
    gate.open("b");
    const rest = await reader.events();
    expect(labels(rest)).toEqual(["after close", "result"]);
    expect(positions(rest)).toEqual([positions(first).at(-1)! + 1, positions(first).at(-1)! + 2]);
    expect(reader.ended).toBe(true);
  });

  it("replays the same events to a client that resumes twice", async () => {
    const { url, gate } = await resumable();
    const { id } = await initSession(url);
    const first = await new SseReader(
      await post(url, toolCall(1, "poll", { key: "c" }), sessionHeaders(id)),
    ).events();
    gate.open("c");
    const lastId = first.at(-1)!.id!;
    const once = await new SseReader(await openGet(url, id, { "last-event-id": lastId })).events();
    const twice = await new SseReader(await openGet(url, id, { "last-event-id": lastId })).events();
    expect(labels(once)).toEqual(["after close", "result"]);
    expect(twice).toEqual(once);
  });
});

describe("reconnecting after a dropped connection", () => {
  it("delivers exactly the missed events, then the rest live, with no duplicates", async () => {
    const { url, gate, contexts } = await resumable();
    const { id } = await initSession(url);
    const controller = new AbortController();
    const response = await post(
      url,
      toolCall(1, "steps", { key: "d" }),
      sessionHeaders(id),
      controller.signal,
    );
    const reader = new SseReader(response);
    const seen = [(await reader.event())!, (await reader.event())!];
    expect(labels(seen)).toEqual(["priming", "step 1"]);
    controller.abort();
    // While nobody listens, the tool goes on and says more.
    gate.open("d:1");
    const resumed = new SseReader(await openGet(url, id, { "last-event-id": seen[1]!.id! }));
    const missed = [(await resumed.event())!, (await resumed.event())!];
    expect(labels(missed)).toEqual(["step 2", "step 3"]);
    gate.open("d:2");
    const live = await resumed.events();
    expect(labels(live)).toEqual(["result"]);
    expect(live[0]!.message).toMatchObject({ id: 1, result: { content: [{ text: "stepped" }] } });
    const all = [...seen, ...missed, ...live];
    expect(new Set(all.map((event) => event.id)).size).toBe(all.length);
    expect(positions(all)).toEqual([0, 1, 2, 3, 4]);
    // A resumable request survives its connection: dropping it did not cancel the tool.
    expect(contexts[0]!.signal.aborted).toBe(false);
  });

  it("ends the old connection when the client resumes on a new one", async () => {
    const { url, gate } = await resumable();
    const { id } = await initSession(url);
    const original = new SseReader(
      await post(url, toolCall(1, "steps", { key: "e" }), sessionHeaders(id)),
    );
    const seen = [(await original.event())!, (await original.event())!];
    expect(labels(seen)).toEqual(["priming", "step 1"]);
    // The client resumes without dropping the first connection: only one may carry the stream.
    const resumed = new SseReader(await openGet(url, id, { "last-event-id": seen[1]!.id! }));
    expect(await original.events()).toEqual([]);
    expect(original.ended).toBe(true);
    gate.open("e:1");
    gate.open("e:2");
    expect(labels(await resumed.events())).toEqual(["step 2", "step 3", "result"]);
  });

  it("replays a GET stream's missed notifications", async () => {
    const { url, mcp, eventStore } = await resumable();
    const { id } = await initSession(url);
    const controller = new AbortController();
    const get = await openGet(url, id, {}, controller.signal);
    expect(get.status).toBe(200);
    const priming = (await new SseReader(get).event())!;
    expect(priming).toMatchObject({ data: "", retry: 1000 });
    controller.abort();
    mcp.tool("added_later", {}, () => "new");
    // The registration's notification is sent on a later microtask: wait until it is stored.
    await until(() =>
      eventStore.appended.some(
        (message) => "method" in message && message.method === "notifications/tools/list_changed",
      ),
    );
    const resumed = new SseReader(await openGet(url, id, { "last-event-id": priming.id! }));
    expect(await resumed.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
    });
    await resumed.cancel();
  });
});

describe("Last-Event-ID checks", () => {
  it("answers 400 to an event id from another session", async () => {
    const { url } = await resumable();
    const a = await initSession(url);
    const b = await initSession(url);
    const events = await new SseReader(
      await post(url, toolCall(1, "quick"), sessionHeaders(a.id)),
    ).events();
    const response = await openGet(url, b.id, { "last-event-id": events[0]!.id! });
    expect(response.status).toBe(400);
    expect((await response.json()) as Json).toMatchObject({ jsonrpc: "2.0", id: null });
    // a itself may resume it.
    const own = await openGet(url, a.id, { "last-event-id": events[0]!.id! });
    expect(own.status).toBe(200);
    expect(labels(await new SseReader(own).events())).toEqual(["result"]);
  });

  it.each(["garbage", "", "abc.-1", "abc.x"])(
    "answers 400 to the malformed id %j",
    async (last) => {
      const { url } = await resumable();
      const { id } = await initSession(url);
      const response = await openGet(url, id, { "last-event-id": last });
      expect(response.status).toBe(400);
      await response.body?.cancel();
    },
  );

  it("answers 404 to an id of this session's that names no stream", async () => {
    const { url } = await resumable();
    const { id } = await initSession(url);
    const response = await openGet(url, id, { "last-event-id": `${id}_nosuchstream.3` });
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });
});
