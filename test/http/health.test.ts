/**
 * Liveness and readiness probes over loopback: mcpApp mounts them by default outside the
 * endpoint's authorization, /readyz names each check (Store, Bus, the caller's own) and its
 * state, answers 503 while one fails or hangs, and 200 again once it answers.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { type Bus, healthRoutes, McpServer, mcpApp, memoryBus } from "../../src/index.ts";
import { memoryStore, type Store, StoreUnavailableError } from "../../src/storage/index.ts";
import { deferred } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { capturingLogger } from "../helpers/log.ts";

/** A real memoryStore whose engine a test can take down: reads then fail as Redis's would. */
function breakableStore(): Store & { down: boolean } {
  const inner = memoryStore();
  const guard = <T>(run: () => Promise<T>) =>
    state.down ? Promise.reject(new StoreUnavailableError("store is down")) : run();
  const state = {
    down: false,
    get: <T>(key: string) => guard(() => inner.get<T>(key)),
    set: (...args: Parameters<Store["set"]>) => guard(() => inner.set(...args)),
    add: (...args: Parameters<Store["add"]>) => guard(() => inner.add(...args)),
    delete: (key: string) => guard(() => inner.delete(key)),
    take: <T>(key: string) => guard(() => inner.take<T>(key)),
    compareAndSet: (...args: Parameters<Store["compareAndSet"]>) =>
      guard(() => inner.compareAndSet(...args)),
    increment: (...args: Parameters<Store["increment"]>) => guard(() => inner.increment(...args)),
    addMember: (...args: Parameters<Store["addMember"]>) => guard(() => inner.addMember(...args)),
    removeMember: (...args: Parameters<Store["removeMember"]>) =>
      guard(() => inner.removeMember(...args)),
    members: (...args: Parameters<Store["members"]>) => guard(() => inner.members(...args)),
  };
  return state;
}

function notes(): McpServer {
  const server = new McpServer({ name: "notes", version: "1.0.0" });
  server.tool("ping", {}, () => "pong");
  return server;
}

async function probe(url: string, method = "GET") {
  const response = await fetch(url, { method });
  const text = await response.text();
  return {
    status: response.status,
    cacheControl: response.headers.get("cache-control"),
    type: response.headers.get("content-type"),
    text,
    body: text ? (JSON.parse(text) as { status: string; checks?: Record<string, unknown> }) : null,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("health probes on mcpApp", () => {
  it("answers /healthz and /readyz without a token, checking the Store and the Bus", async () => {
    const store = memoryStore();
    const bus = memoryBus();
    const auth = authorizationServer({ store, login: devLogin() });
    const base = await listen(mcpApp(notes(), { auth, sessions: { store, bus } }));

    // The endpoint itself wants a token; the probes do not.
    expect((await fetch(`${base}/mcp`, { method: "POST" })).status).toBe(401);
    const live = await probe(`${base}/healthz`);
    expect(live).toMatchObject({ status: 200, cacheControl: "no-store", body: { status: "ok" } });
    expect(live.type).toContain("application/json");
    const ready = await probe(`${base}/readyz`);
    expect(ready).toMatchObject({
      status: 200,
      cacheControl: "no-store",
      body: { status: "ok", checks: { store: { status: "ok" }, bus: { status: "ok" } } },
    });
    // The authorization server shares the sessions' Store and Bus: checked once.
    expect(Object.keys(ready.body!.checks!)).toEqual(["store", "bus"]);

    for (const path of ["/healthz", "/readyz"]) {
      const head = await probe(`${base}${path}`, "HEAD");
      expect(head).toMatchObject({ status: 200, cacheControl: "no-store", text: "" });
    }
    expect((await fetch(`${base}/readyz`, { method: "POST" })).status).toBe(404);
  });

  it("a Store that is down makes /readyz 503 naming it, /healthz stays 200, and it recovers", async () => {
    const store = breakableStore();
    const logger = capturingLogger();
    const auth = authorizationServer({ store, login: devLogin(), logger });
    const base = await listen(mcpApp(notes(), { auth, logger }));
    expect((await probe(`${base}/readyz`)).status).toBe(200);

    store.down = true;
    for (let round = 0; round < 3; round++) {
      const ready = await probe(`${base}/readyz`);
      expect(ready).toMatchObject({
        status: 503,
        cacheControl: "no-store",
        body: { status: "unavailable", checks: { store: { status: "failed" } } },
      });
      expect(ready.text).not.toContain("store is down");
    }
    // Liveness checks nothing shared: a Store outage never gets the process restarted.
    expect((await probe(`${base}/healthz`)).status).toBe(200);
    // The token endpoint counts requests in the Store: it is down, the probe is not.
    const token = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    expect(token.status).toBe(503);
    // One warning for the outage, not one per probe.
    const warnings = logger.at("warn").filter((line) => line.message.includes("readiness"));
    expect(warnings).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ check: "store" }) }),
    ]);

    store.down = false;
    expect(await probe(`${base}/readyz`)).toMatchObject({
      status: 200,
      body: { checks: { store: { status: "ok" } } },
    });
    expect(logger.at("info").filter((line) => line.message.includes("recovered"))).toHaveLength(1);
  });

  it("checks the authorization server's own Store and Bus when they are not the sessions'", async () => {
    const auth = authorizationServer({ store: memoryStore(), bus: memoryBus(), login: devLogin() });
    const sessions = { store: memoryStore(), bus: memoryBus() };
    const base = await listen(mcpApp(notes(), { auth, sessions }));
    const ready = await probe(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body!.checks!).sort()).toEqual(
      ["auth-bus", "auth-store", "bus", "store"].sort(),
    );
  });

  it("a Bus that fails to publish makes /readyz 503 naming the bus", async () => {
    let down = true;
    const inner = memoryBus();
    const bus: Bus = {
      ...inner,
      publish: (channel, message) =>
        down ? Promise.reject(new Error("bus down")) : inner.publish(channel, message),
    };
    const store = memoryStore();
    const base = await listen(mcpApp(notes(), { sessions: { store, bus } }));
    expect(await probe(`${base}/readyz`)).toMatchObject({
      status: 503,
      body: { checks: { store: { status: "ok" }, bus: { status: "failed" } } },
    });
    down = false;
    expect((await probe(`${base}/readyz`)).status).toBe(200);
  });

  it("health: false mounts nothing; extra checks join the default ones", async () => {
    const off = await listen(mcpApp(notes(), { health: false }));
    expect((await fetch(`${off}/healthz`)).status).toBe(404);
    expect((await fetch(`${off}/readyz`)).status).toBe(404);

    let upstream = false;
    const base = await listen(
      mcpApp(notes(), {
        sessions: { store: memoryStore() },
        health: {
          checks: {
            upstream: () => {
              if (!upstream) throw new Error("connect ECONNREFUSED secret-host:5432 password=x");
            },
          },
        },
      }),
    );
    const refused = await probe(`${base}/readyz`);
    expect(refused).toMatchObject({
      status: 503,
      body: { checks: { store: { status: "ok" }, upstream: { status: "failed" } } },
    });
    expect(refused.text).not.toMatch(/ECONNREFUSED|secret-host|password/);
    upstream = true;
    expect((await probe(`${base}/readyz`)).status).toBe(200);
  });
});

describe("healthRoutes", () => {
  it("mounts on any Hono app, under any prefix; with no checks it is ready", async () => {
    const app = new Hono();
    app.route("/ops", healthRoutes());
    const base = await listen(app);
    expect(await probe(`${base}/ops/readyz`)).toMatchObject({
      status: 200,
      body: { status: "ok", checks: {} },
    });
    expect((await probe(`${base}/ops/healthz`)).status).toBe(200);
  });

  it("a check that does not answer within the timeout counts as timeout, and is aborted", async () => {
    const started = deferred<AbortSignal>();
    const app = new Hono();
    app.route(
      "/",
      healthRoutes({
        store: memoryStore(),
        timeoutMs: 250,
        logger: capturingLogger(),
        checks: {
          slow: (signal) => {
            started.resolve(signal);
            return new Promise(() => {}); // Never answers.
          },
        },
      }),
    );
    const base = await listen(app);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const pending = probe(`${base}/readyz`);
    const signal = await started.promise;
    expect(signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(249);
    expect(signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const ready = await pending;
    expect(signal.aborted).toBe(true);
    expect(ready).toMatchObject({
      status: 503,
      body: {
        status: "unavailable",
        checks: { store: { status: "ok" }, slow: { status: "timeout" } },
      },
    });
  });

  it("refuses a bad configuration at construction", () => {
    expect(() => healthRoutes({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => healthRoutes({ store: memoryStore(), checks: { store: () => {} } })).toThrow(
      /two checks are named "store"/,
    );
    expect(() => healthRoutes({ checks: { x: "yes" as never } })).toThrow(/must be a function/);
  });
});
