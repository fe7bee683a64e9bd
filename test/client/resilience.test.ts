/**
 * Resilience against a real server that answers 503, is stopped and restarted, and is slowed:
 * retries with backoff only for requests safe to repeat, the connect limit, the periodic
 * ping, and the state the app watches. Time never passes: the client's timers are the test's.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type McpClient, type StateChange, TransportError } from "../../src/client/index.ts";
import { McpServer } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { manualTimers } from "../helpers/clock.ts";
import { flakyServer } from "./flaky.ts";
import { client } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** Counts what its tools did, so a test can tell a call that ran twice. */
function counterServer(): { make: () => McpServer; runs: { bump: number } } {
  const runs = { bump: 0 };
  const make = () => {
    const mcp = new McpServer({ name: "counter", version: "1.0.0" });
    mcp.tool("bump", {}, () => String(++runs.bump));
    mcp.tool("peek", { annotations: { readOnlyHint: true } }, () => String(runs.bump));
    mcp.tool(
      "set",
      { annotations: { idempotentHint: true }, input: z.object({ n: z.number() }) },
      ({ n }) => {
        runs.bump = n;
        return "set";
      },
    );
    return mcp;
  };
  return { make, runs };
}

const text = (result: { content: unknown[] }) => (result.content[0] as { text: string }).text;

/** The two eras: a 2025 session server, and the 2026-07-28 default. */
const ERAS = [
  {
    name: "2025-11-25 sessions",
    app: { sessions: true },
    client: { protocolVersion: "2025-11-25" },
  },
  { name: "2026-07-28", app: {}, client: {} },
];

async function setUp(era: (typeof ERAS)[number], extra: Parameters<typeof client>[0] = {}) {
  const counter = counterServer();
  const server = await flakyServer(counter.make, era.app);
  const timers = manualTimers({ auto: true });
  const changes: StateChange[] = [];
  const made = client({
    ...era.client,
    timers,
    retry: { random: () => 0.5 },
    onStateChange: (change) => changes.push(change),
    ...extra,
  });
  return { ...counter, server, timers, changes, ...made };
}

describe.each(ERAS)("retries ($name)", (era) => {
  it("sends a safe request again after 503s, with jittered doubling waits", async () => {
    const { server, timers, changes, client: c } = await setUp(era);
    await c.connect(server.url, { listen: false });
    open.push(c);
    server.fail(2);
    const before = server.seen.length;
    const tools = await c.listTools();
    expect(tools.tools.map((tool) => tool.name)).toContain("peek");
    expect(server.seen.slice(before)).toEqual(["tools/list", "tools/list", "tools/list"]);
    // random() = 0.5 of 250 ms, then of 500 ms.
    expect(timers.waits).toEqual([125, 250]);
    expect(changes.map((change) => change.state)).toEqual([
      "connecting",
      "ready",
      "reconnecting",
      "ready",
    ]);
    expect(c.state).toBe("ready");
  });

  it("never sends a tools/call again unless the tool or the caller says it is safe", async () => {
    const { server, runs, client: c } = await setUp(era);
    await c.connect(server.url, { listen: false });
    open.push(c);
    await c.listTools();
    server.fail(1);
    const refused = await c.callTool("bump").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TransportError);
    expect(refused).toMatchObject({ code: "ERR_HTTP_STATUS", status: 503 });
    expect(server.seen.filter((method) => method === "tools/call")).toHaveLength(1);
    expect(runs.bump).toBe(0);

    server.fail(1);
    expect(text(await c.callTool("peek"))).toBe("0");
    server.fail(1);
    expect(text(await c.callTool("set", { n: 7 }))).toBe("set");
    server.fail(1);
    expect(text(await c.callTool("bump", {}, { retry: true }))).toBe("8");
    expect(server.seen.filter((method) => method === "tools/call")).toHaveLength(7);
    // A safe request the caller wants tried once is tried once.
    server.fail(1);
    await expect(c.listTools({}, { retry: false })).rejects.toMatchObject({ status: 503 });
  });

  it("gives up after the tries run out, and does not retry a 501", async () => {
    const { server, timers, client: c } = await setUp(era);
    await c.connect(server.url, { listen: false });
    open.push(c);
    server.fail(5);
    await expect(c.listTools()).rejects.toMatchObject({ code: "ERR_HTTP_STATUS", status: 503 });
    expect(timers.waits).toHaveLength(2);
    server.fail(1, 501);
    await expect(c.listTools()).rejects.toMatchObject({ status: 501 });
    expect(timers.waits).toHaveLength(2);
  });

  it("takes up a server that was stopped and restarted", async () => {
    const timers = manualTimers();
    const { server, changes, client: c } = await setUp(era, { timers });
    await c.connect(server.url, { listen: false });
    open.push(c);
    const firstSession = c.sessionId;
    await server.stop();
    const listing = c.listTools();
    // Refused while nothing listens: the client waits to try again.
    await timers.sleeping();
    expect(c.state).toBe("reconnecting");
    expect(changes.at(-1)?.error).toMatchObject({ code: "ERR_NETWORK" });
    await server.restart();
    timers.fire();
    const tools = await listing;
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(["bump", "peek", "set"]);
    expect(c.state).toBe("ready");
    if (era.app.sessions) {
      // The restarted server forgot the session: a new initialize, then the request again.
      expect(c.sessionId).toBeDefined();
      expect(c.sessionId).not.toBe(firstSession);
      expect(server.seen.slice(-4)).toEqual([
        "tools/list",
        "initialize",
        "notifications/initialized",
        "tools/list",
      ]);
    } else {
      expect(server.seen.at(-1)).toBe("tools/list");
    }
  });
});

describe("connectTimeoutMs", () => {
  it("gives up on a server that does not answer, and the state is closed", async () => {
    const timers = manualTimers();
    const { server, changes, client: c } = await setUp(ERAS[0]!, { timers });
    server.hold();
    const connecting = c.connect(server.url, { listen: false, connectTimeoutMs: 5_000 });
    await server.holding();
    await timers.sleeping();
    expect(timers.waits).toEqual([5_000]);
    expect(c.state).toBe("connecting");
    timers.fire();
    await expect(connecting).rejects.toMatchObject({ code: "ERR_TIMEOUT" });
    expect(c.state).toBe("closed");
    expect(changes.map((change) => change.state)).toEqual(["connecting", "closed"]);
    server.release();
    // A connect in time stops the limit's wait.
    await c.connect(server.url, { listen: false, connectTimeoutMs: 5_000 });
    open.push(c);
    expect(timers.pending()).toBe(0);
    expect(c.state).toBe("ready");
  });

  it("is refused when it is not a positive number", async () => {
    const { server, client: c } = await setUp(ERAS[0]!);
    await expect(c.connect(server.url, { connectTimeoutMs: 0 })).rejects.toThrow(TypeError);
    // Refused before anything started: the client is not left half connected.
    expect(c.connected).toBe(false);
    expect(c.state).toBe("idle");
    expect(server.seen).toEqual([]);
  });
});

describe("periodic ping", () => {
  it("is off by default", async () => {
    const timers = manualTimers();
    const { server, client: c } = await setUp(ERAS[0]!, { timers });
    await c.connect(server.url, { listen: false });
    open.push(c);
    expect(timers.pending()).toBe(0);
  });

  it.each(ERAS)("marks a silent server unhealthy and takes it up again ($name)", async (era) => {
    const timers = manualTimers();
    const {
      server,
      changes,
      client: c,
    } = await setUp(era, {
      timers,
      retry: false,
      ping: { intervalMs: 30_000, maxFailures: 2 },
    });
    await c.connect(server.url, { listen: false });
    open.push(c);
    const pingMethod = era.app.sessions ? "ping" : "server/discover";
    await timers.sleeping();
    expect(timers.waits).toEqual([30_000]);
    timers.fire();
    await timers.sleeping();
    expect(server.seen.at(-1)).toBe(pingMethod);
    expect(c.state).toBe("ready");

    await server.stop();
    timers.fire();
    await timers.sleeping();
    expect(c.state).toBe("unhealthy");
    // The second failure in a row opens the connection afresh, which fails too.
    timers.fire();
    await timers.sleeping();
    expect(c.state).toBe("unhealthy");
    expect(changes.map((change) => change.state)).toContain("reconnecting");

    await server.restart();
    timers.fire();
    await timers.sleeping();
    expect(c.state).toBe("ready");
    expect(server.seen).toContain(pingMethod);
    // The connection was opened afresh in its own era.
    expect(server.seen.slice(-2)).toEqual(
      era.app.sessions ? ["initialize", "notifications/initialized"] : [pingMethod, pingMethod],
    );
    expect(c.protocolVersion).toBe(era.app.sessions ? "2025-11-25" : "2026-07-28");
    // Calls work on the connection the pings brought back.
    expect(text(await c.callTool("peek"))).toBe("0");
    await c.close();
    expect(c.state).toBe("closed");
    timers.fire();
    await until(() => timers.pending() === 0);
  });

  it.each(ERAS)(
    "after a failed reopen, the next call opens the connection first ($name)",
    async (era) => {
      const timers = manualTimers();
      const { server, client: c } = await setUp(era, {
        timers,
        retry: false,
        ping: { intervalMs: 30_000, maxFailures: 1 },
      });
      await c.connect(server.url, { listen: false });
      open.push(c);
      await server.stop();
      await timers.sleeping();
      // One failed ping reopens, which fails too: the transport has nothing left to send with.
      timers.fire();
      await timers.sleeping();
      expect(c.state).toBe("unhealthy");
      await server.restart();
      const before = server.seen.length;
      expect(text(await c.callTool("peek"))).toBe("0");
      const opening = era.app.sessions
        ? ["initialize", "notifications/initialized"]
        : ["server/discover"];
      expect(server.seen.slice(before)).toEqual([...opening, "tools/call"]);
      expect(c.state).toBe("ready");
      expect(c.protocolVersion).toBe(era.app.sessions ? "2025-11-25" : "2026-07-28");
    },
  );

  it("refuses settings out of range at construction", () => {
    expect(() => client({ ping: { intervalMs: 0 } })).toThrow(TypeError);
    expect(() => client({ retry: { attempts: 0 } })).toThrow(TypeError);
    expect(() => client({ retry: { maxDelayMs: Number.NaN } })).toThrow(TypeError);
  });
});

describe("state", () => {
  it("starts idle, and a listener that throws is reported, not thrown", async () => {
    const { server, client: c, warnings } = await setUp(ERAS[1]!);
    expect(c.state).toBe("idle");
    const seen: string[] = [];
    const stop = c.watch((change) => {
      seen.push(`${change.previous}>${change.state}`);
      throw new Error("listener broke");
    });
    await c.connect(server.url);
    open.push(c);
    stop();
    await c.close();
    expect(seen).toEqual(["idle>connecting", "connecting>ready"]);
    expect(warnings.filter((warning) => warning.code === "hook_failed")).toHaveLength(2);
  });
});
