/**
 * Gatekeeping for the Redis suites: they run against the Redis that global-setup.ts found or
 * started (REDIS_URL, else a redis-server from PATH). With neither they are skipped, and the
 * run says so; under `npm run test:redis` (PORTCULLIS_REQUIRE_REDIS=1) they fail instead.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, inject, it } from "vitest";
import { connectRedis, type RedisClient } from "../../src/redis/index.ts";

export const REDIS_URL = inject("redisUrl") || undefined;
/** `npm run test:redis`: a Redis suite that cannot reach Redis fails. */
export const REDIS_REQUIRED = process.env.PORTCULLIS_REQUIRE_REDIS === "1";

/** A describe that runs against Redis, is skipped without one, and fails under test:redis. */
export function describeRedis(name: string, body: (url: string) => void): void {
  if (!REDIS_URL && !REDIS_REQUIRED) {
    // The body is not even collected: it would reach for a Redis that is not there.
    describe(name, () => {
      it.skip("needs Redis (skipped: no REDIS_URL and no redis-server on PATH)", () => {});
    });
    return;
  }
  describe(name, () => {
    beforeAll(async () => {
      if (!REDIS_URL) {
        throw new Error(
          "No Redis: set REDIS_URL or put redis-server on PATH; the Redis suites must run here (test:redis)",
        );
      }
      await assertReachable(REDIS_URL);
    });
    body(REDIS_URL ?? "");
  });
}

/** Fails with a plain message when nothing answers PING at `url`. */
export async function assertReachable(url: string): Promise<void> {
  const client = connectRedis(url, { retryStrategy: () => null, lazyConnect: true });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`Redis at ${url} is unreachable: ${(error as Error).message}`);
  } finally {
    client.disconnect();
  }
}

const clients: RedisClient[] = [];

/** A client for this test file, closed by closeClients(). */
export function client(url: string): RedisClient {
  const made = connectRedis(url);
  made.on("error", () => {});
  clients.push(made);
  return made;
}

export async function closeClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
}

/** A key prefix no other test run shares. */
export function uniquePrefix(label: string): string {
  return `pt:${label}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:`;
}

export interface Instance {
  /** The instance's own base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  process: ChildProcess;
  /** Stderr so far, for failure messages. */
  readonly errors: string;
}

/**
 * Starts `count` instances (test/redis/instance.ts) in child processes, sharing one Redis
 * and one key prefix: one deployment behind an imaginary load balancer.
 */
export async function startInstances(
  count: number,
  env: Record<string, string>,
): Promise<Instance[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startInstance(`#${i + 1}`, env)));
}

export async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const started = await startChild(INSTANCE_SCRIPT, name, env);
  return {
    url: `http://127.0.0.1:${started.ready[1]}`,
    process: started.process,
    get errors() {
      return started.errors;
    },
  };
}

/** A queue consumer process (test/redis/queue-consumer.ts); `url` is empty. */
export async function startConsumer(name: string, env: Record<string, string>): Promise<Instance> {
  const started = await startChild(CONSUMER_SCRIPT, name, { ...env, CONSUMER: name });
  return {
    url: "",
    process: started.process,
    get errors() {
      return started.errors;
    },
  };
}

/** Starts a script in a child process and resolves once it prints READY (and a port). */
function startChild(
  script: string,
  name: string,
  env: Record<string, string>,
): Promise<{ process: ChildProcess; ready: RegExpExecArray; readonly errors: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...env, INSTANCE: name },
    // The IPC channel lets the child stop itself when this process goes away.
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let errors = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    errors += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`instance ${name} did not start:\n${errors}`));
    }, 30_000);
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      out += chunk;
      const ready = /READY(?: (\d+))?\r?\n/.exec(out);
      if (!ready) return;
      clearTimeout(timer);
      resolve({
        process: child,
        ready,
        get errors() {
          return errors;
        },
      });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited with ${code}:\n${errors}`));
    });
  });
}

/** Stops instances and waits for them to exit. */
export async function stopInstances(instances: readonly Instance[]): Promise<void> {
  await Promise.all(
    instances.map(
      (instance) =>
        new Promise<void>((resolve) => {
          if (instance.process.exitCode !== null || instance.process.signalCode !== null) {
            resolve();
            return;
          }
          instance.process.once("exit", () => resolve());
          instance.process.kill("SIGTERM");
        }),
    ),
  );
}

const INSTANCE_SCRIPT = fileURLToPath(new URL("./instance.ts", import.meta.url));
const CONSUMER_SCRIPT = fileURLToPath(new URL("./queue-consumer.ts", import.meta.url));
