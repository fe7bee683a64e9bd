/**
 * The connection manager over real servers: two HTTP servers on loopback, each behind its own
 * bearer token, and a stdio server process. Connections open on first use, close when idle
 * (the test's clock and timers), and the tools of all are listed and called by namespaced name.
 */
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionManager,
  type ConnectionManagerOptions,
  type StateChange,
} from "../../src/client/index.ts";
import { mcpApp } from "../../src/index.ts";
import { type StdioClientTransport, stdioClientTransport } from "../../src/node/index.ts";
import { until } from "../helpers/async.ts";
import { manualClock, manualTimers } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import { richServer } from "./support.ts";

const fixture = fileURLToPath(new URL("../fixtures/stdio-server.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

const managers: ConnectionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.close()));
});

/** Our rich server behind a gate that lets only `token` in; counts what reached it. */
async function gated(token: string): Promise<{ url: string; requests: string[] }> {
  const { mcp } = richServer();
  const requests: string[] = [];
  const app = new Hono();
  app.use("/mcp", async (c, next) => {
    requests.push(c.req.header("authorization") ?? "(none)");
    if (c.req.header("authorization") !== `Bearer ${token}`) {
      return c.json({ error: "invalid_token" }, 401, { "WWW-Authenticate": "Bearer" });
    }
    await next();
  });
  app.route("/", mcpApp(mcp));
  return { url: `${await listen(app)}/mcp`, requests };
}

const stdio = () =>
  stdioClientTransport({
    command: process.execPath,
    args: ["--import", "tsx", fixture],
    cwd: root,
    stderr: "pipe",
  });

async function setUp(extra: Partial<ConnectionManagerOptions> = {}) {
  const alpha = await gated("alpha-token");
  const beta = await gated("beta-token");
  const changes: string[] = [];
  const manager = new ConnectionManager({
    client: { name: "agent", version: "1.0.0" },
    servers: {
      alpha: { url: alpha.url, connect: { headers: { authorization: "Bearer alpha-token" } } },
      beta: { url: beta.url, connect: { headers: { authorization: "Bearer beta-token" } } },
      files: { transport: stdio },
    },
    onStateChange: (server: string, change: StateChange) =>
      changes.push(`${server}:${change.state}`),
    ...extra,
  });
  managers.push(manager);
  return { manager, alpha, beta, changes };
}

describe("ConnectionManager", () => {
  it("connects nothing until used, then only the server used", async () => {
    const { manager, alpha, beta } = await setUp();
    expect(manager.status()).toEqual({
      alpha: { state: "idle", restarts: 0 },
      beta: { state: "idle", restarts: 0 },
      files: { state: "idle", restarts: 0 },
    });
    expect(alpha.requests).toEqual([]);
    const result = await manager.callTool("beta__echo", { text: "hi" });
    expect(result.content).toEqual([{ type: "text", text: "echo: hi" }]);
    expect(alpha.requests).toEqual([]);
    // Each server got its own credentials, and only those.
    expect(new Set(beta.requests)).toEqual(new Set(["Bearer beta-token"]));
    expect(manager.status().beta?.state).toBe("connected");
    expect(manager.status().files?.state).toBe("idle");
  });

  it("lists the tools of every server, namespaced, and routes calls to stdio and HTTP", async () => {
    const { manager, alpha, changes } = await setUp();
    const { tools, failed } = await manager.listTools();
    expect(failed).toEqual([]);
    const names = tools.map((tool) => tool.name);
    expect(names).toContain("alpha__echo");
    expect(names).toContain("beta__add");
    expect(names).toContain("files__env");
    const env = tools.find((tool) => tool.name === "files__env");
    expect(env).toMatchObject({ server: "files", tool: "env" });
    const fromStdio = await manager.callTool("files__echo", { text: "over stdio" });
    expect(fromStdio.content).toEqual([{ type: "text", text: "echo: over stdio" }]);
    const sum = await manager.callTool("alpha__add", { a: 2, b: 3 });
    expect(sum.structuredContent).toEqual({ sum: 5 });
    expect(new Set(alpha.requests)).toEqual(new Set(["Bearer alpha-token"]));
    expect(changes).toEqual(
      expect.arrayContaining(["alpha:connected", "beta:connected", "files:connected"]),
    );
  });

  it("refuses a name that routes nowhere, and lists around a server that is down", async () => {
    const { manager } = await setUp();
    expect(() => manager.route("nobody__echo")).toThrow(TypeError);
    expect(() => manager.route("alpha__")).toThrow(TypeError);
    expect(() => manager.route("echo")).toThrow(TypeError);
    await expect(manager.callTool("nobody__echo")).rejects.toThrow(TypeError);
    // Nothing listens on the discard port.
    manager.add("down", { url: "http://127.0.0.1:9/mcp", client: { retry: false } });
    const { tools, failed } = await manager.listTools();
    expect(failed.map((failure) => failure.server)).toEqual(["down"]);
    expect(failed[0]?.error).toMatchObject({ code: "ERR_NETWORK" });
    expect(tools.some((tool) => tool.server === "alpha")).toBe(true);
    expect(manager.status().down).toMatchObject({ state: "closed", error: expect.any(String) });
  });

  it("closes idle connections and opens them again on use", async () => {
    const clock = manualClock();
    const timers = manualTimers();
    const { manager, beta } = await setUp({ clock: clock.now, timers, idleTimeoutMs: 60_000 });
    await manager.callTool("beta__echo", { text: "one" });
    await manager.callTool("files__echo", { text: "one" });
    await timers.sleeping();
    expect(timers.waits).toEqual([60_000]);
    clock.advance(30_000);
    await manager.callTool("files__echo", { text: "two" });
    clock.advance(30_000);
    timers.fire();
    await timers.sleeping();
    // beta was last used 60 s ago; files 30 s ago.
    expect(manager.status().beta?.state).toBe("closed");
    expect(manager.status().files?.state).toBe("connected");
    const before = beta.requests.length;
    await manager.callTool("beta__echo", { text: "again" });
    expect(manager.status().beta?.state).toBe("connected");
    // Reopened: a new handshake, then the call.
    expect(beta.requests.length - before).toBeGreaterThanOrEqual(2);
    clock.advance(60_000);
    expect((await manager.closeIdle()).sort()).toEqual(["beta", "files"]);
  });

  it("shares one connect among callers that arrive together", async () => {
    const { manager, beta } = await setUp();
    await Promise.all([
      manager.callTool("beta__echo", { text: "a" }),
      manager.callTool("beta__echo", { text: "b" }),
      manager.client("beta"),
    ]);
    const discovers = beta.requests.length;
    // One handshake (server/discover), two calls.
    expect(discovers).toBe(3);
  });

  it("sees a stdio server die, reports it closed, and starts a new one on next use", async () => {
    const made: StdioClientTransport[] = [];
    const { manager, changes } = await setUp({
      servers: {
        files: {
          transport: () => {
            const transport = stdio();
            made.push(transport);
            return transport;
          },
        },
      },
    });
    await manager.callTool("files__echo", { text: "one" });
    made[0]!.process!.kill("SIGKILL");
    await until(() => manager.status().files?.state === "closed");
    expect(changes).toContain("files:closed");
    const again = await manager.callTool("files__echo", { text: "two" });
    expect(again.content).toEqual([{ type: "text", text: "echo: two" }]);
    expect(made).toHaveLength(2);
    expect(manager.status().files?.state).toBe("connected");
  });

  it("refuses bad options at construction", () => {
    const client = { name: "agent", version: "1.0.0" };
    expect(
      () => new ConnectionManager({ client, servers: { a__b: { url: "http://x/mcp" } } }),
    ).toThrow(TypeError);
    expect(
      () => new ConnectionManager({ client, servers: { "": { url: "http://x/mcp" } } }),
    ).toThrow(TypeError);
    expect(() => new ConnectionManager({ client, servers: { a: { url: "not a url" } } })).toThrow(
      TypeError,
    );
    expect(() => new ConnectionManager({ client, idleTimeoutMs: -1 })).toThrow(TypeError);
    const manager = new ConnectionManager({ client });
    manager.add("a", { url: "http://x/mcp" });
    expect(() => manager.add("a", { url: "http://x/mcp" })).toThrow(TypeError);
  });
});
