/**
 * The connection manager's restart policy over a real stdio server process: a crash marks the
 * server down (callers told at once), a restart follows after a backoff the test's timers
 * fire, the waits double per failed try, and the manager gives up after `attempts`.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionManager,
  type ConnectionManagerOptions,
  type ManagedServer,
  type StateChange,
} from "../../src/client/index.ts";
import { type StdioClientTransport, stdioClientTransport } from "../../src/node/index.ts";
import { until } from "../helpers/async.ts";
import { manualTimers } from "../helpers/clock.ts";

const fixture = fileURLToPath(new URL("../fixtures/stdio-server.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

const managers: ConnectionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.close()));
});

const fixtureProcess = (): StdioClientTransport =>
  stdioClientTransport({
    command: process.execPath,
    args: ["--import", "tsx", fixture],
    cwd: root,
    stderr: "capture",
  });

/** A program that dies before it answers. */
const brokenProcess = (): StdioClientTransport =>
  stdioClientTransport({
    command: process.execPath,
    args: ["-e", "process.stderr.write('cannot open database\\n'); process.exit(5)"],
    stderr: "capture",
  });

function setUp(
  transport: () => StdioClientTransport,
  extra: Partial<ConnectionManagerOptions> = {},
  server: Partial<ManagedServer> = {},
) {
  const timers = manualTimers();
  const changes: string[] = [];
  const restarted: string[] = [];
  const manager = new ConnectionManager({
    client: { name: "agent", version: "1.0.0", retry: false },
    idleTimeoutMs: 0,
    timers,
    restart: { baseDelayMs: 1_000, maxDelayMs: 30_000, random: () => 1 },
    onStateChange: (name: string, change: StateChange) => changes.push(`${name}:${change.state}`),
    ...extra,
  });
  manager.add("files", {
    transport,
    hooks: { restarted: () => restarted.push("files") },
    ...server,
  } as ManagedServer);
  managers.push(manager);
  return { manager, timers, changes, restarted };
}

const text = (result: { content: unknown[] }) => (result.content[0] as { text: string }).text;

describe("restarting a connection that ended unasked", () => {
  it("marks the server down, refuses calls at once, and restarts after the backoff", async () => {
    const spawned: StdioClientTransport[] = [];
    const { manager, timers, changes, restarted } = setUp(() => {
      const made = fixtureProcess();
      spawned.push(made);
      return made;
    });
    expect(text(await manager.callTool("files__echo", { text: "one" }))).toBe("echo: one");
    await manager.callTool("files__exit").catch(() => undefined);
    await until(() => manager.status().files?.restarting !== undefined);
    const down = manager.status().files!;
    expect(down).toMatchObject({
      state: "reconnecting",
      restarts: 0,
      restarting: { attempt: 1, delayMs: 1_000 },
      error: expect.stringContaining("code 3"),
      stderr: expect.stringContaining("stdio fixture ready"),
    });
    // No hang while down: the caller hears it at once, and nothing was spawned for it.
    await expect(manager.callTool("files__echo", { text: "two" })).rejects.toMatchObject({
      code: "ERR_CONNECTION_CLOSED",
      message: expect.stringContaining("down"),
    });
    expect(spawned).toHaveLength(1);
    expect(timers.waits).toEqual([1_000]);

    timers.fire();
    await until(() => manager.status().files?.state === "connected");
    expect(manager.status().files).toMatchObject({ restarts: 1 });
    expect(manager.status().files?.restarting).toBeUndefined();
    expect(restarted).toEqual(["files"]);
    expect(spawned).toHaveLength(2);
    expect(text(await manager.callTool("files__echo", { text: "three" }))).toBe("echo: three");
    expect(changes).toContain("files:reconnecting");

    // A new outage starts its backoff from the first wait again.
    await manager.callTool("files__exit").catch(() => undefined);
    await until(() => manager.status().files?.restarting !== undefined);
    expect(manager.status().files?.restarting).toEqual({ attempt: 1, delayMs: 1_000 });
  });

  it("doubles the wait after each failed try and gives up after `attempts`", async () => {
    let made = 0;
    const { manager, timers, changes } = setUp(
      () => (made++ === 0 ? fixtureProcess() : brokenProcess()),
      { restart: { attempts: 3, baseDelayMs: 1_000, random: () => 1 } },
    );
    await manager.client("files");
    await manager.callTool("files__exit").catch(() => undefined);
    for (const [attempt, delayMs] of [
      [1, 1_000],
      [2, 2_000],
      [3, 4_000],
    ] as const) {
      await until(() => manager.status().files?.restarting?.attempt === attempt);
      expect(manager.status().files?.restarting).toEqual({ attempt, delayMs });
      await timers.sleeping(1);
      timers.fire();
    }
    await until(() => changes.at(-1) === "files:closed" && timers.pending() === 0);
    expect(timers.waits).toEqual([1_000, 2_000, 4_000]);
    expect(made).toBe(4);
    const status = manager.status().files!;
    expect(status).toMatchObject({ state: "closed", restarts: 0 });
    expect(status.restarting).toBeUndefined();
    expect(status.stderr).toContain("cannot open database");
  });

  it("jitters each wait below its ceiling", async () => {
    const { manager, timers } = setUp(fixtureProcess, {
      restart: { baseDelayMs: 1_000, random: () => 0.25 },
    });
    await manager.client("files");
    await manager.callTool("files__exit").catch(() => undefined);
    await timers.sleeping(1);
    expect(timers.waits).toEqual([250]);
  });

  it("stops a pending restart when the server is removed", async () => {
    let made = 0;
    const { manager, timers } = setUp(() => {
      made++;
      return fixtureProcess();
    });
    await manager.client("files");
    await manager.callTool("files__exit").catch(() => undefined);
    await timers.sleeping(1);
    await manager.remove("files");
    expect(timers.pending()).toBe(0);
    expect(made).toBe(1);
  });

  it("restarts nothing without a policy: the next use opens it again", async () => {
    let made = 0;
    const { manager, timers } = setUp(
      () => {
        made++;
        return fixtureProcess();
      },
      { restart: false },
    );
    await manager.client("files");
    await manager.callTool("files__exit").catch(() => undefined);
    await until(() => manager.status().files?.state === "closed");
    expect(timers.pending()).toBe(0);
    expect(text(await manager.callTool("files__echo", { text: "again" }))).toBe("echo: again");
    expect(made).toBe(2);
  });

  it("refuses a policy out of range at construction", () => {
    for (const restart of [{ attempts: 0 }, { attempts: 1.5 }, { baseDelayMs: -1 }]) {
      expect(() => new ConnectionManager({ client: { name: "a", version: "1" }, restart })).toThrow(
        TypeError,
      );
    }
  });
});
