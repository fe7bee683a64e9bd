/**
 * Running upstreams: startup that fails loudly, a killed stdio upstream answered with a clear
 * error while down and restarted with backoff, readiness per upstream, per-user processes
 * kept apart, and the environment an upstream gets (configuration, never the caller).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { GatewayStartError, gateway } from "../../src/gateway/index.ts";
import { StdioClientTransport } from "../../src/node/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { until } from "../helpers/async.ts";
import { manualTimers } from "../helpers/clock.ts";
import { EVERYTHING, signedIn, spawning, startGateway } from "./support.ts";

afterEach(() => {
  vi.useRealTimers();
});

const texts = (result: { content: unknown[] }) =>
  result.content.map((block) => (block as { text?: string }).text ?? "").join("\n");

const auth = () => authorizationServer({ store: memoryStore(), login: devLogin() });

describe("starting", () => {
  it("fails loudly when a stdio upstream exits at once", async () => {
    const failure = await gateway({
      auth: auth(),
      upstreams: [
        {
          name: "broken",
          transport: () =>
            new StdioClientTransport({
              command: process.execPath,
              args: ["-e", "process.exit(3)"],
              stderr: "ignore",
            }),
        },
      ],
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GatewayStartError);
    expect(failure).toMatchObject({ code: "ERR_UPSTREAM_START", upstream: "broken" });
  });

  it("fails loudly when an HTTP upstream does not answer", async () => {
    const failure = await gateway({
      auth: auth(),
      upstreams: [{ name: "nowhere", url: "http://127.0.0.1:1/mcp" }],
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "ERR_UPSTREAM_START", upstream: "nowhere" });
  });

  it("refuses bad options at construction", async () => {
    const bad = [
      [{ name: "Bad Name", url: "http://127.0.0.1/mcp" }],
      [{ name: "a", url: "ftp://example.com" }],
      [{ name: "a" }],
      [
        { name: "a", url: "http://127.0.0.1/mcp" },
        { name: "a", url: "http://127.0.0.1/mcp" },
      ],
      [{ name: "a", url: "http://127.0.0.1/mcp", identityHeader: "x-subject" }],
      [
        {
          name: "a",
          url: "http://127.0.0.1/mcp",
          isolation: "per-user",
          identityHeader: "authorization",
        },
      ],
    ] as const;
    for (const upstreams of bad) {
      await expect(gateway({ auth: auth(), upstreams: upstreams as never })).rejects.toThrow(
        TypeError,
      );
    }
  });
});

describe("a crashed stdio upstream", () => {
  it("answers calls with a JSON-RPC error while down, then restarts with backoff", async () => {
    const everything = spawning([EVERYTHING, "stdio"]);
    const { gw, base } = await startGateway({
      restart: { initialMs: 1_000 },
      upstreams: [{ name: "everything", transport: everything.transport }],
    });
    const { client } = await signedIn(base);
    expect(texts(await client.callTool("everything_echo", { message: "before" }))).toContain(
      "before",
    );
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    everything.spawned[0]!.process!.kill("SIGKILL");
    await until(() => gw.status()[0]!.state === "down");

    const refused = await client
      .callTool("everything_echo", { message: "while down" })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: -32000 });
    expect((refused as Error).message).toContain('upstream "everything" is unavailable');
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      checks: { "upstream:everything": { status: "failed" } },
    });

    vi.advanceTimersByTime(1_000);
    vi.useRealTimers();
    await until(() => gw.status()[0]!.state === "ready", 15_000);
    expect(everything.spawned).toHaveLength(2);
    expect(gw.status()[0]).toMatchObject({ restarts: 1, instances: 1 });
    expect(texts(await client.callTool("everything_echo", { message: "after" }))).toContain(
      "after",
    );
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});

describe("restarts on the gateway's own timers", () => {
  it("waits the backoff the timers give, and reports the crashed process's stderr", async () => {
    const timers = manualTimers();
    const spawned: StdioClientTransport[] = [];
    const { gw, base } = await startGateway({
      restart: { initialMs: 2_000 },
      timers,
      upstreams: [
        {
          name: "everything",
          transport: () => {
            const made = new StdioClientTransport({
              command: process.execPath,
              args: [EVERYTHING, "stdio"],
              stderr: "capture",
            });
            spawned.push(made);
            return made;
          },
        },
      ],
    });
    const { client } = await signedIn(base);
    spawned[0]!.process!.kill("SIGKILL");
    await until(() => gw.status()[0]!.state === "down");
    await timers.sleeping(1);
    // The wait is drawn below its ceiling (jitter); the first ceiling is initialMs.
    expect(timers.waits).toHaveLength(1);
    expect(timers.waits[0]).toBeLessThanOrEqual(2_000);
    expect(gw.status()[0]).toMatchObject({
      state: "down",
      restarts: 0,
      error: expect.stringContaining("SIGKILL"),
      // What the everything server said when it started, kept for the operator.
      stderr: expect.stringContaining("Starting default (STDIO) server"),
    });
    await expect(client.callTool("everything_echo", { message: "down" })).rejects.toMatchObject({
      code: -32000,
    });
    expect(spawned).toHaveLength(1);
    timers.fire();
    await until(() => gw.status()[0]!.state === "ready", 15_000);
    expect(gw.status()[0]).toMatchObject({ restarts: 1 });
    expect(gw.status()[0]!.error).toBeUndefined();
    expect(spawned).toHaveLength(2);
    expect(texts(await client.callTool("everything_echo", { message: "back" }))).toContain("back");
  });
});

describe("per-user stdio upstreams", () => {
  it("runs one process per user, each with the configured environment only", async () => {
    process.env.GATEWAY_TEST_SECRET = "the gateway's own secret";
    const everything = spawning([EVERYTHING, "stdio"], { UPSTREAM_SETTING: "from-config" });
    const { gw, base } = await startGateway({
      upstreams: [{ name: "mine", transport: everything.transport, isolation: "per-user" }],
    });
    // The process started to learn the offer is gone again.
    expect(everything.spawned).toHaveLength(1);
    expect(gw.status()[0]).toMatchObject({ isolation: "per-user", instances: 0 });
    const alice = (await signedIn(base, { user: "alice" })).client;
    const bob = (await signedIn(base, { user: "bob" })).client;
    const env = texts(await alice.callTool("mine_get-env", {}));
    expect(env).toContain("from-config");
    expect(env).not.toContain("the gateway's own secret");
    await bob.callTool("mine_echo", { message: "bob" });
    expect(everything.spawned).toHaveLength(3);
    const [aliceProcess, bobProcess] = [everything.spawned[1]!, everything.spawned[2]!];
    expect(aliceProcess.process!.pid).not.toBe(bobProcess.process!.pid);

    // Alice's process dying leaves Bob's alone.
    aliceProcess.process!.kill("SIGKILL");
    await until(() => aliceProcess.process!.exitCode !== null || aliceProcess.process!.killed);
    expect(texts(await bob.callTool("mine_echo", { message: "still here" }))).toContain(
      "still here",
    );
    expect(bobProcess.process!.exitCode).toBeNull();
  });
});
