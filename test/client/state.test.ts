/**
 * Client state that outlives a process: taking a 2025 session up again from a
 * ClientStateStore (the client is told to speak 2025-11-25; the era memory of the default
 * probe is tested in modern-era.test.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import { type McpClient, memoryClientState } from "../../src/client/index.ts";
import { memoryEventStore } from "../../src/index.ts";
import { deferred, eventually, until } from "../helpers/async.ts";
import { client, getStreamOpen, recordingFetch, richServer, serve } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const legacy = { protocolVersion: "2025-11-25" };

const isInitialize = (body: string | undefined) => body?.includes('"method":"initialize"') ?? false;

async function statefulServer() {
  const { mcp } = richServer();
  const url = await serve(mcp, { sessions: true, eventStore: memoryEventStore() });
  return { mcp, url };
}

describe("memoryClientState", () => {
  it("keeps one record and hands out copies", async () => {
    const store = memoryClientState();
    expect(await store.get()).toBeUndefined();
    await store.set({ protocolVersion: "2025-11-25", sessionId: "abc" });
    const got = await store.get();
    got!.sessionId = "changed";
    expect(await store.get()).toEqual({ protocolVersion: "2025-11-25", sessionId: "abc" });
    await store.set(undefined);
    expect(await store.get()).toBeUndefined();
  });
});

describe("connect(url, { state })", () => {
  it("records the negotiated version, session and server", async () => {
    const { url } = await statefulServer();
    const state = memoryClientState();
    const { client: c } = client(legacy);
    await c.connect(url, { state });
    open.push(c);
    await c.ping();
    expect(await state.get()).toMatchObject({
      protocolVersion: "2025-11-25",
      sessionId: c.sessionId,
      serverInfo: { name: "rich", version: "2.0.0" },
      serverCapabilities: { tools: { listChanged: true } },
      instructions: "Be brief.",
    });
  });

  it("a restarted client takes up the stored session without a new initialize", async () => {
    const { url } = await statefulServer();
    const state = memoryClientState();
    const first = client(legacy).client;
    await first.connect(url, { state });
    const sessionId = first.sessionId!;
    await first.close({ terminate: false });

    const recorder = recordingFetch();
    const { client: second } = client(legacy);
    await second.connect(url, { state, fetch: recorder.fetch });
    open.push(second);
    expect(second.sessionId).toBe(sessionId);
    expect(second.protocolVersion).toBe("2025-11-25");
    expect(second.serverInfo).toEqual({ name: "rich", version: "2.0.0" });
    expect(second.instructions).toBe("Be brief.");
    expect(recorder.calls.some((call) => isInitialize(call.body))).toBe(false);
    expect(recorder.calls[0]!.body).toContain('"method":"ping"');
    expect(recorder.calls[0]!.headers.get("mcp-session-id")).toBe(sessionId);
    expect((await second.callTool("echo", { text: "back" })).content).toEqual([
      { type: "text", text: "echo: back" },
    ]);
  });

  it("re-initializes when the server no longer knows the stored session", async () => {
    const { url } = await statefulServer();
    const state = memoryClientState();
    const first = client(legacy).client;
    await first.connect(url, { state });
    const stale = first.sessionId!;
    await first.close({ terminate: false });
    await fetch(url, {
      method: "DELETE",
      headers: { "mcp-session-id": stale, "mcp-protocol-version": "2025-11-25" },
    });

    const recorder = recordingFetch();
    const { client: second } = client(legacy);
    await second.connect(url, { state, fetch: recorder.fetch });
    open.push(second);
    expect(recorder.calls[0]).toMatchObject({ method: "POST", status: 404 });
    expect(isInitialize(recorder.calls[1]!.body)).toBe(true);
    expect(second.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect(second.sessionId).not.toBe(stale);
    await second.ping();
    expect((await state.get())?.sessionId).toBe(second.sessionId);
  });

  it("replays what the GET stream missed while no process listened", async () => {
    const { mcp, url } = await statefulServer();
    const state = memoryClientState();
    const firstFetch = recordingFetch();
    const first = client(legacy).client;
    await first.connect(url, { state, fetch: firstFetch.fetch, listen: true });
    await until(() => getStreamOpen(firstFetch.calls));
    // The priming event's id is stored as soon as it arrives.
    const stored = await eventually(
      () => state.get(),
      (saved) => saved?.lastEventId !== undefined,
    );
    expect(stored?.lastEventId).toMatch(/\S/);
    await first.close({ terminate: false });

    // While no client listens, the tool list changes.
    mcp.tool("added_while_away", {}, () => "new");

    const changed = deferred();
    const recorder = recordingFetch();
    const { client: second } = client({ ...legacy, onToolsChanged: () => changed.resolve() });
    await second.connect(url, { state, fetch: recorder.fetch });
    open.push(second);
    await changed.promise;
    const get = recorder.calls.find((call) => call.method === "GET");
    expect(get?.headers.get("last-event-id")).toBe(stored!.lastEventId);
  });

  it("close() ends the session and forgets it, keeping only the server's revision", async () => {
    const { url } = await statefulServer();
    const state = memoryClientState();
    const { client: c } = client(legacy);
    await c.connect(url, { state });
    await c.close();
    expect(await state.get()).toEqual({
      protocolVersion: "2025-11-25",
      origin: new URL(url).origin,
    });
  });

  it("initializes afresh against a stateless server (nothing to take up)", async () => {
    const { mcp } = richServer();
    const url = await serve(mcp);
    const state = memoryClientState();
    const first = client(legacy).client;
    await first.connect(url, { state });
    await first.close({ terminate: false });
    expect(await state.get()).toMatchObject({ protocolVersion: "2025-11-25" });
    expect((await state.get())?.sessionId).toBeUndefined();

    const recorder = recordingFetch();
    const { client: second } = client(legacy);
    await second.connect(url, { state, fetch: recorder.fetch });
    open.push(second);
    expect(isInitialize(recorder.calls[0]!.body)).toBe(true);
  });

  it("initializes afresh when the stored version is one it no longer speaks", async () => {
    const { url } = await statefulServer();
    const state = memoryClientState({ protocolVersion: "1999-01-01", sessionId: "whatever" });
    const recorder = recordingFetch();
    const { client: c } = client(legacy);
    await c.connect(url, { state, fetch: recorder.fetch });
    open.push(c);
    expect(isInitialize(recorder.calls[0]!.body)).toBe(true);
    expect(c.protocolVersion).toBe("2025-11-25");
  });
});
