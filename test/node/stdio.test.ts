/** stdio: a server process driven by stdioClientTransport, and serveStdio in process. */

import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { McpClient, type Progress, TransportError } from "../../src/client/index.ts";
import { McpServer } from "../../src/index.ts";
import {
  type StdioClientOptions,
  type StdioClientTransport,
  serveStdio,
  stdioClientTransport,
} from "../../src/node/index.ts";
import { until } from "../helpers/async.ts";

const fixture = fileURLToPath(new URL("../fixtures/stdio-server.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function fixtureTransport(options: Partial<StdioClientOptions> = {}): StdioClientTransport {
  return stdioClientTransport({
    command: process.execPath,
    args: ["--import", "tsx", fixture],
    cwd: root,
    stderr: "pipe",
    ...options,
  });
}

/** Collects a piped stderr as text. */
function capture(transport: StdioClientTransport): { text: () => string } {
  let text = "";
  transport.stderr!.setEncoding("utf8");
  transport.stderr!.on("data", (chunk: string) => {
    text += chunk;
  });
  return { text: () => text };
}

async function connect(
  options: Partial<StdioClientOptions> = {},
  clientOptions: Partial<ConstructorParameters<typeof McpClient>[0]> = {},
) {
  const warnings: { code: string }[] = [];
  const transport = fixtureTransport(options);
  const client = new McpClient({
    name: "stdio-test",
    version: "1.0.0",
    onWarning: (warning) => warnings.push(warning),
    ...clientOptions,
  });
  await client.connect(transport);
  open.push(client);
  return { client, transport, warnings };
}

describe("stdioClientTransport, one server process for several calls", () => {
  let shared: Awaited<ReturnType<typeof connect>>;
  let stderr: { text: () => string };
  beforeAll(async () => {
    shared = await connect(
      {},
      { handlers: { elicitation: () => ({ action: "accept", content: { name: "Stdio" } }) } },
    );
    // A piped stream keeps what was written until it is read.
    stderr = capture(shared.transport);
    // Kept for the whole block, not closed after each test.
    open.splice(open.indexOf(shared.client), 1);
  });
  afterAll(async () => {
    await shared.client.close();
  });

  it("spawns the server, initializes, lists and calls tools", async () => {
    const { client, transport } = shared;
    expect(client.serverInfo).toEqual({ name: "stdio-fixture", version: "1.0.0" });
    // The channel serves 2026-07-28 too, and the client prefers it.
    expect(client.protocolVersion).toBe("2026-07-28");
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain("echo");
    expect((await client.callTool("echo", { text: "over stdio" })).content).toEqual([
      { type: "text", text: "echo: over stdio" },
    ]);
    const progress: Progress[] = [];
    await client.callTool("progress", { steps: 2 }, { onProgress: (p) => progress.push(p) });
    expect(progress).toEqual([
      { progress: 1, total: 2 },
      { progress: 2, total: 2 },
    ]);
    expect(transport.process?.pid).toBeGreaterThan(0);
  });

  it("hands the server's stderr over when piped", async () => {
    await until(() => stderr.text().includes("stdio fixture ready"));
  });

  it("cancels a call: the server's ctx.signal aborts with our reason", async () => {
    const controller = new AbortController();
    let started = false;
    const call = shared.client.callTool(
      "wait",
      {},
      { signal: controller.signal, onProgress: () => (started = true) },
    );
    await until(() => started);
    controller.abort("changed my mind");
    await expect(call).rejects.toBe("changed my mind");
    await until(() => stderr.text().includes("aborted:"));
    expect(stderr.text()).toContain("aborted: Request cancelled: changed my mind");
  });

  it("answers the server's elicitation", async () => {
    expect((await shared.client.callTool("ask_name")).content).toEqual([
      { type: "text", text: "Hello, Stdio!" },
    ]);
  });

  it("skips lines of stdout that are not JSON, with a warning", async () => {
    expect((await shared.client.callTool("noise")).content).toEqual([
      { type: "text", text: "noisy" },
    ]);
    await until(() => shared.warnings.some((warning) => warning.code === "bad_message"));
    await expect(shared.client.ping()).resolves.toBeUndefined();
  });
});

describe("stdioClientTransport, a server process each", () => {
  it("gives the server only a safe environment plus what it is told", async () => {
    process.env.PORTCULLIS_TEST_SECRET = "s3cret";
    try {
      const { client } = await connect({ env: { GREETING: "hi" } });
      const env = async (name: string) =>
        ((await client.callTool("env", { name })).content[0] as { text: string }).text;
      expect(await env("GREETING")).toBe("hi");
      expect(await env("PORTCULLIS_TEST_SECRET")).toBe("(unset)");
      expect(await env("PATH")).toBe(process.env.PATH);
      const inherited = await connect({ inheritEnv: true });
      const secret = await inherited.client.callTool("env", { name: "PORTCULLIS_TEST_SECRET" });
      expect(secret.content).toEqual([{ type: "text", text: "s3cret" }]);
    } finally {
      delete process.env.PORTCULLIS_TEST_SECRET;
    }
  });

  it("fails everything with ERR_MESSAGE_TOO_LARGE when a message is over the limit", async () => {
    const { client } = await connect({ maxMessageBytes: 4_096 });
    await expect(client.callTool("big", { size: 10_000 })).rejects.toMatchObject({
      code: "ERR_MESSAGE_TOO_LARGE",
    });
  });

  it("fails the waiting call with ERR_CONNECTION_CLOSED when the process exits", async () => {
    const { client, transport } = await connect();
    const error = await client.callTool("exit").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_CONNECTION_CLOSED" });
    expect((error as Error).message).toContain("code 3");
    expect(transport.process?.exitCode).toBe(3);
    expect(client.connected).toBe(false);
  });

  it("close() ends the server process", async () => {
    const { client, transport } = await connect();
    await client.close();
    expect(transport.process!.exitCode !== null || transport.process!.signalCode !== null).toBe(
      true,
    );
  });

  it("a command that cannot start fails with ERR_SPAWN", async () => {
    const client = new McpClient({ name: "t", version: "1" });
    await expect(
      client.connect(stdioClientTransport({ command: "/nonexistent/portcullis-test-binary" })),
    ).rejects.toMatchObject({ name: "TransportError", code: "ERR_SPAWN" });
  });
});

describe("serveStdio", () => {
  function wire() {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const lines: unknown[] = [];
    let pending = "";
    stdout.setEncoding("utf8");
    stdout.on("data", (chunk: string) => {
      pending += chunk;
      for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
        lines.push(JSON.parse(pending.slice(0, end)));
        pending = pending.slice(end + 1);
      }
    });
    const mcp = new McpServer({ name: "in-process", version: "1.0.0" });
    mcp.tool("hello", {}, () => "hello");
    const served = serveStdio(mcp, { stdin, stdout });
    const send = (value: unknown) =>
      stdin.write(`${typeof value === "string" ? value : JSON.stringify(value)}\n`);
    return { stdin, lines, served, send };
  }

  it("answers newline-delimited JSON-RPC, CRLF included", async () => {
    const { lines, send, stdin } = wire();
    stdin.write(
      `${JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "raw", version: "0" },
        },
      })}\r\n`,
    );
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "hello" } });
    await until(() => lines.length === 2);
    expect(lines[0]).toMatchObject({ id: 1, result: { protocolVersion: "2025-06-18" } });
    expect(lines[1]).toEqual({
      jsonrpc: "2.0",
      id: 2,
      result: { content: [{ type: "text", text: "hello" }] },
    });
  });

  it("answers a line that is not JSON with a parse error, and goes on", async () => {
    const { lines, send } = wire();
    send("{ nope");
    send({ jsonrpc: "2.0", id: 7, method: "ping" });
    await until(() => lines.length === 2);
    expect(lines[0]).toMatchObject({ id: null, error: { code: -32700 } });
    expect(lines[1]).toEqual({ jsonrpc: "2.0", id: 7, result: {} });
  });

  it("resolves `closed` when the client ends stdin", async () => {
    const { stdin, served } = wire();
    stdin.end();
    await served.closed;
  });
});
