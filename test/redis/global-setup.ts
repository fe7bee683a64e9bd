/**
 * Gives the Redis suites (test/redis) a Redis, and says plainly, once per run, which:
 * - REDIS_URL when it is set;
 * - else a redis-server from PATH, started here on a free loopback port with nothing saved
 *   to disk, and stopped after the run;
 * - else none: the suites are skipped, visibly (a skipped test per suite, and this note at the
 *   start and end of the run), even under CI=true, since a user's CI may have no Redis.
 *   `npm run test:redis` (PORTCULLIS_REQUIRE_REDIS=1) fails instead: there they must run.
 * The tests read the URL with inject("redisUrl") (see describeRedis in support.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis the suites use; "" when there is none. */
    redisUrl: string;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

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

/** Starts redis-server in the foreground (so this process owns it); resolves once it listens. */
async function startRedis(binary: string): Promise<{ url: string; server: ChildProcess }> {
  const port = await freePort();
  const server = spawn(
    binary,
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      server.kill("SIGKILL");
      reject(new Error(`redis-server did not start within 10 s:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    server.stdout!.on("data", onData);
    server.stderr!.on("data", onData);
    server.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) before listening:\n${output}`));
    });
  });
  return { url: `redis://127.0.0.1:${port}`, server };
}

function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.once("exit", () => resolve());
    server.kill("SIGTERM");
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const required = process.env.PORTCULLIS_REQUIRE_REDIS === "1";
  let url = process.env.REDIS_URL;
  let server: ChildProcess | undefined;
  let note: string;
  const binary = url ? undefined : onPath("redis-server");
  if (url) {
    note = `Redis suites (test/redis): running against REDIS_URL ${url}`;
  } else if (binary) {
    ({ url, server } = await startRedis(binary));
    note = `Redis suites (test/redis): running against ${binary}, started on ${url} for this run`;
  } else if (required) {
    note =
      "Redis suites (test/redis): no REDIS_URL and no redis-server on PATH, and they are required here: they FAIL";
  } else {
    note =
      "Redis suites (test/redis): SKIPPED, no REDIS_URL and no redis-server on PATH (install redis-server, or set REDIS_URL)";
  }
  project.provide("redisUrl", url ?? "");
  console.log(`\n${note}\n`);
  return async () => {
    if (server) await stop(server);
    if (!url) console.log(`\n${note}\n`);
  };
}
