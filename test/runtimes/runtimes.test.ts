import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { endToEndCheck } from "./e2e.ts";

const root = resolve(import.meta.dirname, "../..");
const bin = (name: string) => resolve(root, "node_modules/.bin", name);

interface Runtime {
  name: string;
  /** The binary, from the `bun` / `deno` / `wrangler` npm packages (devDependencies). */
  command: string;
  /** Its arguments, given a free port for runtimes that cannot pick one themselves. */
  args: (port: number) => string[];
  /** What the entry prints once it listens; its first group is the MCP endpoint URL. */
  ready: RegExp;
}

// Each runtime runs its one-file entry, which imports the same examples/demo/server.ts. The
// entries call Bun.serve / Deno.serve, which exist nowhere else: a line saying it listens
// proves the runtime itself served it.
const state = mkdtempSync(join(tmpdir(), "portcullis-wrangler-"));

const runtimes: Runtime[] = [
  {
    name: "Bun",
    command: bin("bun"),
    args: () => ["examples/bun.ts"],
    ready: /on Bun: MCP endpoint at (\S+)/,
  },
  {
    name: "Deno",
    command: bin("deno"),
    args: () => [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--no-lock",
      "examples/deno.ts",
    ],
    ready: /on Deno: MCP endpoint at (\S+)/,
  },
  {
    name: "Node (the same check, for comparison)",
    command: bin("tsx"),
    args: () => ["examples/demo/node.ts"],
    ready: /MCP endpoint at (\S+)/,
  },
  {
    // `npm run dev:workers`: the Worker entry in workerd, started as a deployment would start
    // it (module evaluation at global scope, where workerd forbids random values and timers).
    name: "workerd (wrangler dev)",
    command: bin("wrangler"),
    args: (port) => [
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      // Fresh local Durable Object and KV state, not what earlier runs left in .wrangler/.
      "--persist-to",
      state,
      // A Worker cannot tell where it listens: the dev login runs on a loopback issuer only,
      // named here as `npm run dev:workers` names it.
      "--var",
      `ISSUER:http://127.0.0.1:${port}`,
    ],
    ready: /Ready on (http:\/\/\S+)/,
  },
];

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

const children: ChildProcess[] = [];

afterAll(async () => {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
          child.once("exit", () => {
            clearTimeout(force);
            done();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
  rmSync(state, { recursive: true, force: true });
});

/** Starts an entry on a free port; resolves with its MCP URL, rejects with its output. */
async function start(runtime: Runtime): Promise<string> {
  if (!existsSync(runtime.command)) {
    throw new Error(
      `${runtime.name} is not installed: ${runtime.command} is missing. Run npm ci (the runtime ships in its npm package).`,
    );
  }
  const child = spawn(runtime.command, runtime.args(await freePort()), {
    cwd: root,
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      DO_NOT_TRACK: "1",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      // The defaults, not whatever a developer's .env holds.
      CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${runtime.name} did not start within 30 s:\n${output}`)),
      30_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = runtime.ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${runtime.name} could not be started: ${error.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime.name} exited with code ${code} before listening:\n${output}`));
    });
  });
  // wrangler prints the origin; the others print the endpoint.
  return url.endsWith("/mcp") ? url : `${url.replace(/\/$/, "")}/mcp`;
}

describe.each(runtimes)("the demo server under $name", (runtime) => {
  it("discovers, authorizes headlessly and calls a tool", async () => {
    const mcpUrl = await start(runtime);
    expect(mcpUrl).toMatch(/^http:\/\/(127\.0\.0\.1|localhost):\d+\/mcp$/);
    await endToEndCheck(mcpUrl);
  });
});
