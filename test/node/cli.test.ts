/**
 * The `portcullis` command end to end, as separate processes against our protected demo: a
 * person signs in through the loopback redirect (the test plays the browser, reading the
 * sign-in URL the CLI prints), tokens are kept in the encrypted file between runs, and a stdio
 * MCP client drives `portcullis proxy`.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { createServer as createHttpsServer } from "node:https";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createDemoApp } from "../../examples/demo/server.ts";
import { McpClient } from "../../src/client/index.ts";
import { parse, timeouts } from "../../src/node/cli/args.ts";
import { main } from "../../src/node/cli/main.ts";
import { StdioClientTransport } from "../../src/node/index.ts";
import { listen } from "../helpers/http.ts";
import { Browser } from "../helpers/oauth.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// The source entry through tsx; the compiled bin is run by test/consumer over the packed tarball.
const BIN = ["--import", "tsx", join(ROOT, "src/node/cli/bin.ts")];
const KEY = "a test key, never a real one";
const SLOW = 90_000;

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

async function demo(): Promise<{ base: string; mcp: string }> {
  // The dev login only serves a localhost issuer.
  const base = (await listen(createDemoApp())).replace("127.0.0.1", "localhost");
  return { base, mcp: `${base}/mcp` };
}

async function tokenFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), "portcullis-cli-")), "tokens.json");
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: tmpdir(),
    PORTCULLIS_TOKEN_KEY: KEY,
    ...extra,
  };
}

/**
 * Plays the person at the browser: waits for the sign-in URL on the CLI's stderr, signs in
 * through the dev login and consent pages, and follows the redirect back to the CLI's
 * loopback listener. Resolves with the listener's answer.
 */
function signInFrom(stderr: Readable, base: string, seen: { text: string }): Promise<Response> {
  return new Promise((resolve, reject) => {
    stderr.on("data", (chunk: Buffer) => {
      seen.text += chunk.toString();
    });
    const onData = () => {
      const match = /^\s+(http:\/\/localhost:\d+\/authorize\?\S+)$/m.exec(seen.text);
      if (!match) return;
      stderr.off("data", onData);
      void (async () => {
        const browser = new Browser();
        let response = await browser.fetch(match[1]!);
        for (let step = 0; step < 5 && response.status !== 303; step++) {
          const html = await response.text();
          response = html.includes('name="username"')
            ? await browser.submit(base, html, { username: "carol" })
            : await browser.submit(base, html, { decision: "allow" });
          const location = response.headers.get("location");
          if (response.status === 303 && location && new URL(location, base).origin === base) {
            response = await browser.fetch(new URL(location, base).href);
          }
        }
        const back = response.headers.get("location")!;
        expect(back).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
        resolve(await browser.fetch(back));
      })().catch(reject);
    };
    stderr.on("data", onData);
  });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The loopback listener's answer to the browser, when the run signed in. */
  callback?: Response;
}

/** Runs the CLI to completion; signs in through the browser when it asks. */
function cli(args: string[], options: { base?: string; extraEnv?: Record<string, string> } = {}) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [...BIN, ...args], {
      cwd: ROOT,
      env: env(options.extraEnv),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    const seen = { text: "" };
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const signIn = options.base ? signInFrom(child.stderr, options.base, seen) : undefined;
    if (!signIn) {
      child.stderr.on("data", (chunk: Buffer) => {
        seen.text += chunk.toString();
      });
    }
    child.once("error", reject);
    child.once("close", async (code) => {
      const run: Run = { code, stdout, stderr: seen.text };
      if (signIn && /\/authorize\?/.test(seen.text)) run.callback = await signIn;
      resolve(run);
    });
  });
}

describe("portcullis call", () => {
  it("signs in through the loopback redirect, calls the tool, and keeps the tokens encrypted", {
    timeout: SLOW,
  }, async () => {
    const { base, mcp } = await demo();
    const tokens = await tokenFile();
    const first = await cli(
      [
        "call",
        mcp,
        "add_note",
        "--args",
        '{"text":"from the cli"}',
        "--no-open",
        "--tokens",
        tokens,
      ],
      { base },
    );
    expect(first.stderr).not.toContain("portcullis:");
    expect(first.code).toBe(0);
    expect(first.callback?.status).toBe(200);
    expect(await first.callback?.text()).toContain("Authorized");
    // The result as JSON on stdout; progress on stderr (plain lines: not a terminal).
    expect(JSON.parse(first.stdout)).toMatchObject({ structuredContent: { id: "1" } });
    expect(first.stderr).toMatch(/^progress 1\/2 saving$/m);

    // Owner-only file, and nothing in it readable without the key.
    expect((await stat(tokens)).mode & 0o777).toBe(0o600);
    const text = await readFile(tokens, "utf8");
    expect(JSON.parse(text)).toMatchObject({ format: "portcullis-tokens", version: 1 });
    expect(text).not.toContain("localhost");
    // No token in the clear: a JWT is base64url segments joined by dots, which the
    // ciphertext (base64url, no dots) cannot hold, though it may well contain "eyJ" by chance.
    expect(text).not.toMatch(/eyJ[\w-]*\.eyJ/);

    // A second process uses the stored tokens: no sign-in.
    const second = await cli(["call", mcp, "list_notes", "--no-open", "--tokens", tokens]);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain("/authorize?");
    expect(JSON.parse(second.stdout).content).toEqual([{ type: "text", text: "1: from the cli" }]);
  });

  it("exits 1 with the tool's error result on stdout when the tool fails", {
    timeout: SLOW,
  }, async () => {
    const { base, mcp } = await demo();
    const tokens = await tokenFile();
    const run = await cli(
      ["call", mcp, "add_note", "--args", '{"text":""}', "--no-open", "--tokens", tokens],
      { base },
    );
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ isError: true });
  });

  it("refuses bad arguments with exit status 2 before touching the network", async () => {
    const missing = await cli(["call"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Give the server's URL");
    const badArgs = await cli(["call", "http://localhost:9/mcp", "t", "--args", "[1]"]);
    expect(badArgs.code).toBe(2);
    expect(badArgs.stderr).toContain("--args must be a JSON object");
    const unknown = await cli(["frobnicate", "http://localhost:9/mcp"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown command: frobnicate");
  });

  it("fails with a typed error when the server's metadata names another resource", {
    timeout: SLOW,
  }, async () => {
    const { Hono } = await import("hono");
    const app = new Hono();
    app.get("/.well-known/oauth-protected-resource/mcp", (c) =>
      c.json({
        resource: "https://elsewhere.example/mcp",
        authorization_servers: ["https://as.example"],
      }),
    );
    app.post("/mcp", (c) =>
      c.json({ error: "invalid_token" }, 401, { "WWW-Authenticate": "Bearer" }),
    );
    const base = await listen(app);
    const run = await cli(["call", `${base}/mcp`, "x", "--no-open", "--tokens", await tokenFile()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("[ERR_RESOURCE_MISMATCH]");
  });
});

describe("portcullis connect", () => {
  it("lists the server's tools, resources and prompts as JSON after signing in", {
    timeout: SLOW,
  }, async () => {
    const { base, mcp } = await demo();
    const run = await cli(
      ["connect", mcp, "--json", "--no-open", "--verbose", "--tokens", await tokenFile()],
      { base },
    );
    expect(run.code).toBe(0);
    // Results alone on stdout; --verbose tells each step on stderr.
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(run.stderr).toContain(`portcullis: POST ${mcp} (server/discover): 401`);
    expect(run.stderr).toContain("portcullis: 401: the server wants a token; discovering");
    expect(run.stderr).toMatch(/^portcullis: client \S+ registered at http:\/\/localhost:\d+$/m);
    expect(run.stderr).toMatch(/^portcullis: token from http:\/\/localhost:\d+ for .*\/mcp/m);
    expect(run.stderr).toContain(`portcullis: authorized by ${base} for ${mcp}`);
    expect(run.stderr).toMatch(/^portcullis: POST .* \(tools\/list\): 200 after \d+ ms$/m);
    expect(report).toMatchObject({
      server: { name: "notes" },
      authorization: { issuer: base, resource: mcp, scope: "notes:read notes:write" },
    });
    expect((report.tools as { name: string }[]).map((t) => t.name).sort()).toEqual([
      "add_note",
      "list_notes",
    ]);
    expect((report.resourceTemplates as { uriTemplate: string }[])[0]?.uriTemplate).toBe(
      "notes://{id}",
    );
    expect((report.prompts as { name: string }[]).map((p) => p.name)).toEqual(["summarize"]);
  });
});

describe("portcullis proxy", () => {
  function proxy(mcp: string, tokens: string): StdioClientTransport {
    return new StdioClientTransport({
      command: process.execPath,
      args: [...BIN, "proxy", mcp, "--no-open", "--tokens", tokens],
      cwd: ROOT,
      env: env(),
      stderr: "pipe",
    });
  }

  it("bridges a stdio client to the protected server, signing in once and reusing the tokens", {
    timeout: SLOW,
  }, async () => {
    const { base, mcp } = await demo();
    const tokens = await tokenFile();

    const transport = proxy(mcp, tokens);
    const client = new McpClient({ name: "desktop-app", version: "1.0.0" });
    open.push(client);
    const connecting = client.connect(transport, { timeoutMs: SLOW });
    // The proxy's stderr exists once it runs; the person signs in while initialize waits.
    while (!transport.stderr) await new Promise((resolve) => setTimeout(resolve, 5));
    const seen = { text: "" };
    const callback = await signInFrom(transport.stderr!, base, seen);
    expect(callback.status).toBe(200);
    await connecting;

    expect(client.serverInfo?.name).toBe("notes");
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(["add_note", "list_notes"]);
    const progress: number[] = [];
    const added = await client.callTool(
      "add_note",
      { text: "through the proxy" },
      { onProgress: (update) => progress.push(update.progress) },
    );
    expect(added.structuredContent).toEqual({ id: "1" });
    // The server's progress notifications came through the bridge.
    expect(progress).toContain(1);
    await client.close();

    // A second proxy process, for a client that speaks 2025 (initialize, a session held by
    // the proxy): the tokens from the file, no sign-in.
    const again = proxy(mcp, tokens);
    const stderr: string[] = [];
    const second = new McpClient({
      name: "desktop-app",
      version: "1.0.0",
      protocolVersion: "2025-11-25",
    });
    open.push(second);
    await second.connect(again, { timeoutMs: SLOW });
    expect(second.protocolVersion).toBe("2025-11-25");
    again.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
    const listed = await second.callTool("list_notes", {});
    expect(listed.content).toEqual([{ type: "text", text: "1: through the proxy" }]);
    expect(stderr.join("")).not.toContain("/authorize?");
  });

  it("answers what it cannot forward with JSON-RPC errors, on stdout only", {
    timeout: SLOW,
  }, async () => {
    const { Hono } = await import("hono");
    const app = new Hono();
    app.post("/mcp", (c) => c.text("no", 500));
    const base = await listen(app);
    const child = spawn(
      process.execPath,
      [...BIN, "proxy", `${base}/mcp`, "--no-open", "--tokens", await tokenFile()],
      { cwd: ROOT, env: env(), stdio: ["pipe", "pipe", "pipe"] },
    );
    const lines: unknown[] = [];
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      for (const part of parts) lines.push(JSON.parse(part));
    });
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    child.stdin.write("this is not json\n");
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 7, method: "ping" })}\n`);
    child.stdin.end();
    expect(await closed).toBe(0);
    expect(lines).toContainEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "Parse error" },
    });
    const answer = lines.find((line) => (line as { id?: unknown }).id === 7) as {
      error: { code: number; message: string };
    };
    expect(answer.error.code).toBe(-32000);
    expect(answer.error.message).toContain("500");
  });
});

/** Runs the CLI in this process (no tsx start-up): for failures that need no browser. */
async function inProcess(args: string[]): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const code = await main(args, { stdin: new PassThrough(), stdout, stderr, env: env() });
  return { code, stdout: out, stderr: err };
}

/** A loopback TCP server; `answer: false` takes connections and never says a word. */
async function tcpServer(): Promise<{
  port: number;
  sockets: Socket[];
  close: () => Promise<void>;
}> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("CLI options", () => {
  it("takes every time limit in seconds, with the documented defaults", () => {
    expect(timeouts(parse([]).values)).toEqual({
      connectMs: 10_000,
      requestMs: 60_000,
      authMs: 300_000,
    });
    expect(
      timeouts(
        parse(["--connect-timeout", "0.5", "--timeout", "2", "--auth-timeout", "90"]).values,
      ),
    ).toEqual({ connectMs: 500, requestMs: 2_000, authMs: 90_000 });
  });

  it("refuses a time limit that is not a positive number of seconds, with status 2", async () => {
    for (const [flag, value] of [
      ["--timeout", "0"],
      ["--connect-timeout", "-1"],
      ["--auth-timeout", "soon"],
    ] as const) {
      const run = await inProcess(["connect", "http://localhost:9/mcp", `${flag}=${value}`]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`${flag} must be a positive number of seconds, not ${value}`);
    }
  });

  it("prints the package's version for --version", async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
      version: string;
    };
    const run = await inProcess(["--version"]);
    expect(run).toMatchObject({ code: 0, stdout: `${manifest.version}\n`, stderr: "" });
    // And through the bin, as a user runs it.
    const spawned = await cli(["--version"]);
    expect(spawned.stdout).toBe(`${manifest.version}\n`);
  });
});

describe("CLI network failures", () => {
  it("gives up on a server that takes the connection and never answers", async () => {
    const silent = await tcpServer();
    try {
      const run = await inProcess([
        "call",
        `http://127.0.0.1:${silent.port}/mcp`,
        "x",
        "--connect-timeout",
        "0.2",
        "--tokens",
        await tokenFile(),
      ]);
      expect(run.code).toBe(1);
      // The server did take the connection: the limit is on its answer.
      expect(silent.sockets.length).toBeGreaterThan(0);
      expect(run.stderr).toContain("no answer within 0.2 s (--connect-timeout)");
      expect(run.stderr).toContain("[ERR_CONNECT_TIMEOUT]");
      expect(run.stdout).toBe("");
    } finally {
      await silent.close();
    }
  });

  it("says the connection was refused", async () => {
    const closed = await tcpServer();
    await closed.close();
    const run = await inProcess([
      "connect",
      `http://127.0.0.1:${closed.port}/mcp`,
      "--tokens",
      await tokenFile(),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("connection refused");
    expect(run.stderr).toContain("[ECONNREFUSED]");
    expect(run.stderr).not.toContain("fetch failed");
  });

  it("says the host name does not resolve", async () => {
    const run = await inProcess([
      "connect",
      "http://nonexistent.invalid/mcp",
      "--tokens",
      await tokenFile(),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no such host \(DNS\) \[ENOTFOUND\]|\[EAI_AGAIN\]/);
    expect(run.stderr).not.toContain("fetch failed");
  });

  it("says the server's certificate is not trusted", async () => {
    const server = createHttpsServer(
      {
        cert: await readFile(join(ROOT, "test/fixtures/localhost-cert.pem")),
        key: await readFile(join(ROOT, "test/fixtures/localhost-key.pem")),
      },
      (_request, response) => response.end("{}"),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const run = await inProcess([
        "connect",
        `https://localhost:${port}/mcp`,
        "--tokens",
        await tokenFile(),
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/TLS certificate .*\[[A-Z_]+\]/);
      expect(run.stderr).not.toContain("fetch failed");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("portcullis proxy, several requests at once", () => {
  /** A 2026-07-28 request, as a modern stdio client sends it: no initialize first. */
  const listTools = (id: number) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "tools/list",
      params: {
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "desktop-app", version: "1.0.0" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    });

  /** Starts the proxy, writes `lines` at once, and collects what comes back until `count` replies. */
  function burst(args: string[], lines: string[], count: number) {
    const child = spawn(process.execPath, [...BIN, "proxy", ...args], {
      cwd: ROOT,
      env: env(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    const replies: { id: number; result?: { tools: unknown[] }; error?: { message: string } }[] =
      [];
    let buffer = "";
    const answered = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        const parts = buffer.split("\n");
        buffer = parts.pop()!;
        for (const part of parts) replies.push(JSON.parse(part));
        if (replies.length >= count) resolve();
      });
    });
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    child.stdin.write(`${lines.join("\n")}\n`);
    return {
      child,
      replies,
      answered,
      finish: async () => {
        child.stdin.end();
        return closed;
      },
    };
  }

  it("opens one sign-in for every request that hit 401, and answers them all", {
    timeout: SLOW,
  }, async () => {
    const { base, mcp } = await demo();
    const run = burst(
      [mcp, "--no-open", "--tokens", await tokenFile(), "--timeout", "30"],
      [listTools(1), listTools(2), listTools(3)],
      3,
    );
    const seen = { text: "" };
    const callback = await signInFrom(run.child.stderr, base, seen);
    expect(callback.status).toBe(200);
    await run.answered;
    expect(await run.finish()).toBe(0);
    expect(seen.text.match(/\/authorize\?/g)).toHaveLength(1);
    expect(run.replies.map((reply) => reply.id).sort()).toEqual([1, 2, 3]);
    for (const reply of run.replies) expect(reply.result?.tools).toHaveLength(2);
  });

  it("fails every waiting request with the one sign-in that timed out, opening no other", {
    timeout: SLOW,
  }, async () => {
    const { mcp } = await demo();
    const run = burst(
      [mcp, "--no-open", "--tokens", await tokenFile(), "--auth-timeout", "1"],
      [listTools(1), listTools(2), listTools(3)],
      3,
    );
    let stderr = "";
    run.child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await run.answered;
    expect(await run.finish()).toBe(0);
    expect(stderr.match(/\/authorize\?/g)).toHaveLength(1);
    expect(run.replies.map((reply) => reply.id).sort()).toEqual([1, 2, 3]);
    for (const reply of run.replies) {
      expect(reply.error?.message).toMatch(/within 1 s/);
    }
  });
});
