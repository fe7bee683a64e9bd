/**
 * Readiness on Redis: a redis-server of this test's own is stopped (/readyz answers 503 and
 * names the Store and the Bus as failing, /healthz stays 200) and started again on the same
 * port (/readyz answers 200 once the client has reconnected, without a restart of ours).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { afterAll, expect, it } from "vitest";
import { McpServer, mcpApp } from "../../src/index.ts";
import { connectRedis, redisBus, redisStore } from "../../src/redis/index.ts";
import { eventually } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { capturingLogger } from "../helpers/log.ts";
import { describeRedis, uniquePrefix } from "./support.ts";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts redis-server (from PATH) on a port, nothing saved; resolves once it listens. */
function startRedis(port: number): Promise<ChildProcess> {
  const server = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) resolve(server);
    };
    server.stdout!.on("data", onData);
    server.stderr!.on("data", onData);
    server.once("error", reject);
    server.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
}

function stopRedis(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.once("exit", () => resolve());
    server.kill("SIGTERM");
  });
}

const running: ChildProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map(stopRedis));
});

async function readiness(url: string) {
  const response = await fetch(url);
  return {
    status: response.status,
    body: (await response.json()) as { status: string; checks: Record<string, { status: string }> },
  };
}

describeRedis("readiness on Redis", () => {
  it("503 naming the Store and the Bus while redis-server is stopped, 200 once it is back", async () => {
    const port = await freePort();
    running.push(await startRedis(port));
    const redis = connectRedis(`redis://127.0.0.1:${port}`);
    redis.on("error", () => {});
    const prefix = uniquePrefix("health");
    const store = redisStore({ client: redis, prefix });
    const bus = redisBus({ client: redis, prefix });
    const logger = capturingLogger();
    const mcp = new McpServer({ name: "health", version: "1.0.0", secret: "s".repeat(32) });
    mcp.tool("ping", {}, () => "pong");
    const base = await listen(mcpApp(mcp, { sessions: { store, bus }, logger }));
    try {
      expect(await readiness(`${base}/readyz`)).toEqual({
        status: 200,
        body: { status: "ok", checks: { store: { status: "ok" }, bus: { status: "ok" } } },
      });

      await stopRedis(running.pop()!);
      const down = await eventually(
        () => readiness(`${base}/readyz`),
        (answer) => answer.status === 503,
      );
      // The Redis adapters wait up to their 2 s for a reconnection; the probe gives up at 500 ms.
      expect(down.body).toEqual({
        status: "unavailable",
        checks: { store: { status: "timeout" }, bus: { status: "timeout" } },
      });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(
        logger
          .at("warn")
          .filter((line) => line.message.includes("readiness"))
          .map((line) => line.fields.check)
          .sort(),
      ).toEqual(["bus", "store"]);

      running.push(await startRedis(port));
      // ioredis reconnects on its own schedule (up to 2 s between attempts): ask until then.
      const back = await eventually(
        () => readiness(`${base}/readyz`),
        (answer) => answer.status === 200,
        300,
        50,
      );
      expect(back.body).toEqual({
        status: "ok",
        checks: { store: { status: "ok" }, bus: { status: "ok" } },
      });
    } finally {
      await bus.close();
      redis.disconnect();
    }
  }, 30_000);
});
