/**
 * 2025 sessions: the GET stream, resumption, expiry and re-initialize, DELETE on close. The
 * client is told to speak 2025-11-25: our dual-era server would otherwise serve 2026-07-28.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { McpClient } from "../../src/client/index.ts";
import { McpServer, memoryEventStore } from "../../src/index.ts";
import { deferred, until } from "../helpers/async.ts";
import { post } from "../helpers/http.ts";
import {
  client,
  getStreamOpen,
  LEGACY_MODES,
  recordingFetch,
  richServer,
  serve,
} from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const ping = { jsonrpc: "2.0", id: 99, method: "ping" };

function sessionHeaders(id: string) {
  return { "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" };
}

describe("resumption after ctx.closeConnection()", () => {
  it("resumes the reply stream with GET and Last-Event-ID and gets the result", async () => {
    const mcp = new McpServer({ name: "poll", version: "1.0.0" });
    const gate = deferred();
    mcp.tool("poll", {}, async (_args, ctx) => {
      ctx.log.info("before the drop");
      expect(ctx.closeConnection()).toBe(true);
      await gate.promise;
      ctx.log.info("after the drop");
      return "polled";
    });
    const url = await serve(mcp, { sessions: true, eventStore: memoryEventStore(), retryMs: 20 });
    const logs: unknown[] = [];
    const recorder = recordingFetch();
    const { client: c, warnings } = client({
      protocolVersion: "2025-11-25",
      onLog: (message) => {
        logs.push(message.data);
        if (message.data === "before the drop") gate.resolve();
      },
    });
    await c.connect(url, { fetch: recorder.fetch, listen: false });
    open.push(c);
    const result = await c.callTool("poll");
    expect(result.content).toEqual([{ type: "text", text: "polled" }]);
    expect(logs).toEqual(["before the drop", "after the drop"]);
    const resumes = recorder.calls.filter((call) => call.headers.has("last-event-id"));
    expect(resumes.length).toBeGreaterThanOrEqual(1);
    expect(resumes[0]!.method).toBe("GET");
    expect(resumes[0]!.headers.get("mcp-session-id")).toBe(c.sessionId);
    expect(warnings).toEqual([]);
  });
});

describe.each(LEGACY_MODES.filter((mode) => mode.sessions))("$name", (mode) => {
  async function connect(options: Parameters<typeof client>[0] = {}) {
    const { mcp, seen } = richServer();
    const url = await serve(mcp, mode.options());
    const recorder = recordingFetch();
    const made = client({ ...mode.client, ...options });
    await made.client.connect(url, { fetch: recorder.fetch });
    open.push(made.client);
    return { ...made, mcp, seen, url, calls: recorder.calls };
  }

  it("labels every request after initialize with the session id and protocol version", async () => {
    const { client: c, calls } = await connect();
    await c.ping();
    const [initialize, ...later] = calls.filter((call) => call.method === "POST");
    expect(initialize!.headers.has("mcp-session-id")).toBe(false);
    expect(initialize!.headers.has("mcp-protocol-version")).toBe(false);
    expect(later.length).toBeGreaterThanOrEqual(2);
    for (const call of later) {
      expect(call.headers.get("mcp-session-id")).toBe(c.sessionId);
      expect(call.headers.get("mcp-protocol-version")).toBe("2025-11-25");
    }
    expect(later[0]!.body).toContain("notifications/initialized");
  });

  it("receives list_changed on the GET stream, and stops trusting old output schemas", async () => {
    let changes = 0;
    const {
      client: c,
      mcp,
      calls,
      warnings,
    } = await connect({
      onToolsChanged: () => {
        changes++;
      },
    });
    await c.listTools();
    await until(() => getStreamOpen(calls));
    const add = [...mcp.tools.values()].find((tool) => tool.name === "add")!;
    add.update({ output: z.object({ total: z.number() }) }, () => ({ total: 7 }));
    await until(() => changes === 1);
    // The schema listed before the change would reject { total }; it was forgotten.
    expect((await c.callTool("add", { a: 3, b: 4 })).structuredContent).toEqual({ total: 7 });
    expect(warnings).toEqual([]);
  });

  it("receives resources/updated for what it subscribed to", async () => {
    const updated: string[] = [];
    const {
      client: c,
      mcp,
      calls,
    } = await connect({ onResourceUpdated: (uri) => updated.push(uri) });
    await until(() => getStreamOpen(calls));
    await c.subscribe("notes://readme");
    mcp.resourceUpdated("notes://other");
    mcp.resourceUpdated("notes://readme");
    await until(() => updated.length > 0);
    expect(updated).toEqual(["notes://readme"]);
  });

  it("re-initializes once when the server forgot the session, and retries the call", async () => {
    let restarts = 0;
    const { client: c, url } = await connect({ onSessionRestarted: () => restarts++ });
    const first = c.sessionId!;
    // The session ends behind the client's back.
    expect((await fetch(url, { method: "DELETE", headers: sessionHeaders(first) })).status).toBe(
      200,
    );
    const result = await c.callTool("echo", { text: "again" });
    expect(result.content).toEqual([{ type: "text", text: "echo: again" }]);
    expect(c.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect(c.sessionId).not.toBe(first);
    expect(restarts).toBe(1);
  });

  it("requests racing into an expired session share one new session", async () => {
    let restarts = 0;
    const { client: c, url, calls } = await connect({ onSessionRestarted: () => restarts++ });
    await fetch(url, { method: "DELETE", headers: sessionHeaders(c.sessionId!) });
    const results = await Promise.all([
      c.callTool("echo", { text: "1" }),
      c.callTool("echo", { text: "2" }),
      c.callTool("echo", { text: "3" }),
    ]);
    expect(results.map((result) => (result.content[0] as { text: string }).text)).toEqual([
      "echo: 1",
      "echo: 2",
      "echo: 3",
    ]);
    expect(restarts).toBe(1);
    const initializes = calls.filter((call) => call.body?.includes('"method":"initialize"'));
    expect(initializes).toHaveLength(2);
  });

  it("restores its subscriptions and log level in the new session", async () => {
    const updated: string[] = [];
    const {
      client: c,
      mcp,
      url,
      calls,
    } = await connect({
      onResourceUpdated: (uri) => updated.push(uri),
    });
    await c.subscribe("notes://readme");
    await c.setLoggingLevel("error");
    await fetch(url, { method: "DELETE", headers: sessionHeaders(c.sessionId!) });
    await c.ping();
    const bodies = calls.map((call) => call.body ?? "");
    const lastInit = bodies.findLastIndex((body) => body.includes('"method":"initialize"'));
    expect(bodies.slice(lastInit).some((body) => body.includes("resources/subscribe"))).toBe(true);
    expect(bodies.slice(lastInit).some((body) => body.includes("logging/setLevel"))).toBe(true);
    await until(() =>
      calls.slice(lastInit).some((call) => call.method === "GET" && call.status === 200),
    );
    mcp.resourceUpdated("notes://readme");
    await until(() => updated.length > 0);
    expect(updated).toEqual(["notes://readme"]);
  });

  it("re-opens a session the GET stream found expired, without waiting for a call", async () => {
    const changed = deferred();
    const {
      client: c,
      mcp,
      url,
      calls,
    } = await connect({ onToolsChanged: () => changed.resolve() });
    await until(() => getStreamOpen(calls));
    const first = c.sessionId!;
    await fetch(url, { method: "DELETE", headers: sessionHeaders(first) });
    // The server ends the GET stream with the session; the client reconnects, hears 404, and
    // opens a new session on its own.
    await until(() => c.sessionId !== first && c.sessionId !== undefined);
    await until(
      () =>
        calls.filter((call) => call.method === "GET" && call.status === 200).length >= 2 &&
        calls.at(-1)?.method === "GET",
    );
    mcp.tool("late", {}, () => "late");
    await changed.promise;
  });

  it("DELETEs the session on close", async () => {
    const { client: c, url, calls } = await connect();
    const id = c.sessionId!;
    await c.close();
    expect(calls.at(-1)).toMatchObject({ method: "DELETE", status: 200 });
    expect((await post(url, ping, sessionHeaders(id))).status).toBe(404);
  });

  it("close({ terminate: false }) leaves the session alive", async () => {
    const { client: c, url } = await connect();
    const id = c.sessionId!;
    await c.close({ terminate: false });
    const response = await post(url, ping, sessionHeaders(id));
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });
});

describe("a server without sessions", () => {
  it("answers the GET stream with 405, which the client takes quietly", async () => {
    const { mcp } = richServer();
    const recorder = recordingFetch();
    const { client: c, warnings } = client({ protocolVersion: "2025-11-25" });
    await c.connect(await serve(mcp), { fetch: recorder.fetch, listen: true });
    open.push(c);
    await until(() => recorder.calls.some((call) => call.method === "GET" && call.status === 405));
    await c.ping();
    await c.close();
    expect(warnings).toEqual([]);
    // No session, nothing to DELETE.
    expect(recorder.calls.map((call) => call.method)).not.toContain("DELETE");
  });
});
