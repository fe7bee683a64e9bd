/**
 * mcp-remote (npm), the stdio bridge many desktop MCP clients use for remote servers, through
 * the gateway as a user runs it: it discovers the built-in authorization server, registers,
 * prints the sign-in URL (no browser here), and once the user signed in (dev login and consent,
 * driven headless) takes the code on its loopback callback. A stdio client then lists and
 * calls the upstream's tools through it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signInWithDevLogin } from "../client/oauth/support.ts";
import { until } from "../helpers/async.ts";
import { EVERYTHING, spawning, startGateway, tempDir } from "./support.ts";

const require = createRequire(import.meta.url);
const MCP_REMOTE = join(dirname(require.resolve("mcp-remote/package.json")), "dist/proxy.js");

let base: string;
let url: string;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  ({ base, url } = await startGateway({
    upstreams: [{ name: "everything", transport: spawning([EVERYTHING, "stdio"]).transport }],
  }));
}, 60_000);

afterAll(() => {
  for (const child of children) child.kill();
});

/** A free loopback port for mcp-remote's OAuth callback. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** mcp-remote as a process, with its stdout read as JSON-RPC lines. */
function mcpRemote(configDir: string, callbackPort: number) {
  const child = spawn(process.execPath, [MCP_REMOTE, url, String(callbackPort)], {
    // No PATH: it finds no browser to open and prints the URL, as on a headless machine.
    env: { MCP_REMOTE_CONFIG_DIR: configDir, PATH: "" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  let stdout = "";
  const messages: { id?: number; result?: Record<string, unknown>; error?: unknown }[] = [];
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    const lines = stdout.split("\n");
    stdout = lines.pop()!;
    for (const line of lines) if (line.trim()) messages.push(JSON.parse(line));
  });
  let id = 0;
  return {
    stderr: () => stderr,
    notify: (method: string) =>
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method })}\n`),
    async request(method: string, params: Record<string, unknown> = {}) {
      const sent = ++id;
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: sent, method, params })}\n`);
      await until(() => messages.some((m) => m.id === sent), 20_000);
      return messages.find((m) => m.id === sent)!;
    },
  };
}

describe("mcp-remote through the gateway", () => {
  it("signs in headless, then lists and calls the upstream's tools", async () => {
    const configDir = tempDir();
    const remote = mcpRemote(configDir, await freePort());
    await until(() => /visiting:\s*(\S+)/.test(remote.stderr()), 20_000);
    const authorize = /visiting:\s*(\S+)/.exec(remote.stderr())![1]!;
    expect(new URL(authorize).origin).toBe(base);
    expect(new URL(authorize).searchParams.get("resource")).toBe(url);

    // The user signs in; the browser is sent back to mcp-remote's loopback callback.
    const callback = await signInWithDevLogin(base, authorize);
    expect(new URL(callback).pathname).toBe("/oauth/callback");
    const landed = await fetch(callback);
    expect(landed.status).toBe(200);

    const initialized = await remote.request("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "desktop-app", version: "1.0.0" },
    });
    expect(initialized.result?.serverInfo).toMatchObject({ name: "portcullis-gateway" });
    remote.notify("notifications/initialized");
    const listed = await remote.request("tools/list");
    const tools = (listed.result?.tools ?? []) as { name: string }[];
    const names = tools.map((tool) => tool.name);
    expect(names).toContain("everything_echo");
    const called = await remote.request("tools/call", {
      name: "everything_echo",
      arguments: { message: "via mcp-remote" },
    });
    expect(JSON.stringify(called.result)).toContain("via mcp-remote");
    // It keeps its tokens in its own config directory: a second start signs in no more.
    expect(readdirSync(configDir).length).toBeGreaterThan(0);
    const again = mcpRemote(configDir, await freePort());
    const second = await again.request("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "desktop-app", version: "1.0.0" },
    });
    expect(second.result?.serverInfo).toMatchObject({ name: "portcullis-gateway" });
    expect(again.stderr()).not.toContain("visiting:");
  }, 60_000);
});
