/** Processes, MCP calls and a browser stand-in for the consumer smoke test. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect } from "vitest";
import { MCP_HEADERS, messagesOf } from "../helpers/http.ts";
import { Browser, pkce } from "../helpers/oauth.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
/** A binary this repository pins (bun, deno, wrangler, tsc). */
export const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

export interface Started {
  child: ChildProcess;
  /** stdout and stderr as they came, interleaved. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout + stderr; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

const started: ChildProcess[] = [];

/** Stops a process and everything it started (its process group), waiting for it to exit. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return Promise.resolve();
  }
  const pid = child.pid;
  return new Promise((done) => {
    const force = setTimeout(() => process.kill(-pid, "SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    process.kill(-pid, "SIGTERM");
  });
}

afterAll(async () => {
  await Promise.all(started.splice(0).map(stop));
});

/** Starts a long-running process in its own group; stopped after the test file. */
export function start(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Started {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...quietEnv(), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  started.push(child);
  let output = "";
  const streams = { stdout: "", stderr: "" };
  const listeners = new Set<() => void>();
  const onData = (stream: keyof typeof streams) => (chunk: Buffer) => {
    output += chunk.toString();
    streams[stream] += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on("data", onData("stdout"));
  child.stderr!.on("data", onData("stderr"));
  return {
    child,
    output: () => output,
    stdout: () => streams.stdout,
    stderr: () => streams.stderr,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolveMatch, reject) => {
        const done = () => {
          listeners.delete(check);
          clearTimeout(timer);
          child.off("exit", exited);
        };
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            done();
            resolveMatch(match);
          }
        };
        const exited = (code: number | null) => {
          done();
          reject(new Error(`${command} exited (${code}) before printing ${pattern}:\n${output}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${command} printed no ${pattern} within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        listeners.add(check);
        child.once("exit", exited);
        check();
      });
    },
  };
}

/** The environment of every process started here: no telemetry, no colour, no update checks. */
function quietEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Not the repository's own node_modules/.bin (vitest puts it first on PATH).
    if (value !== undefined && !key.startsWith("npm_") && key !== "NODE_OPTIONS") env[key] = value;
  }
  return {
    ...env,
    NO_COLOR: "1",
    DO_NOT_TRACK: "1",
    DENO_NO_UPDATE_CHECK: "1",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<Finished> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...quietEnv(), ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolveRun({ code, stdout, stderr }));
  });
}

interface ToolResult {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** initialize, then tools/call, as a 2025-11-25 client: the tool's result. */
export async function callTool(
  mcpUrl: string,
  tool: string,
  args: Record<string, unknown>,
  token?: string,
): Promise<ToolResult> {
  const headers: Record<string, string> = { ...MCP_HEADERS };
  if (token) headers.authorization = `Bearer ${token}`;
  const send = async (message: unknown) => {
    const response = await fetch(mcpUrl, {
      method: "POST",
      headers,
      body: JSON.stringify(message),
    });
    expect(response.status).toBe(200);
    const replies = (await messagesOf(response)) as { id?: unknown; result?: unknown }[];
    return replies.find((reply) => reply.id !== undefined)?.result;
  };
  const init = (await send({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "consumer-check", version: "1.0.0" },
    },
  })) as { protocolVersion?: string };
  headers["mcp-protocol-version"] = init.protocolVersion ?? "2025-11-25";
  return (await send({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: tool, arguments: args },
  })) as ToolResult;
}

/**
 * What a browser gets at `/authorize` for a freshly registered client: the sign-in page. The
 * status, content type and HTML, so a test can tell a rendered page from a 500.
 */
export async function signInPage(
  issuer: string,
  resource: string,
): Promise<{ status: number; type: string; html: string }> {
  const registered = await fetch(`${issuer}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      redirect_uris: ["http://127.0.0.1:9/callback"],
      token_endpoint_auth_method: "none",
      client_name: "Consumer Check",
    }),
  });
  expect(registered.status).toBe(201);
  const { client_id } = (await registered.json()) as { client_id: string };
  const { challenge } = await pkce();
  const query = new URLSearchParams({
    response_type: "code",
    client_id,
    redirect_uri: "http://127.0.0.1:9/callback",
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "s",
    resource,
  });
  const response = await fetch(`${issuer}/authorize?${query}`);
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    html: await response.text(),
  };
}

/** The sign-in page is the dev login form, rendered by the compiled JSX. */
export function expectSignInForm(page: { status: number; type: string; html: string }): void {
  expect(page.status).toBe(200);
  expect(page.type).toMatch(/^text\/html/);
  expect(page.html).toMatch(/^<html lang="en"><head>[\s\S]*<\/html>$/);
  expect(page.html).toMatch(/<form[^>]*action="\/login\/dev"/);
  expect(page.html).toContain('name="username"');
}

/** The sign-in URL the command prints (with --no-open). */
const ASKED = /^\s+(https?:\/\/\S+\/authorize\?\S+)$/m;

export interface CliRun extends Finished {
  /** What the sign-in page looked like to the browser the test played. */
  page?: { status: number; type: string; html: string };
}

/**
 * Runs the installed `portcullis` command with `node` to its end. When it prints a sign-in
 * URL, plays the person at the browser: dev login as `carol`, consent, then the redirect back
 * to the command's loopback listener.
 */
export async function portcullis(node: string, project: string, args: string[]): Promise<CliRun> {
  const home = await mkdtemp(join(tmpdir(), "portcullis-cli-home-"));
  try {
    const command = start(node, [join(project, "node_modules/.bin/portcullis"), ...args], {
      cwd: project,
      env: { HOME: home, PORTCULLIS_TOKEN_KEY: "a key for this check only" },
    });
    const exit = new Promise<number | null>((done) => command.child.once("close", done));
    const signIn = command.waitFor(ASKED, 120_000).then((match) => playBrowser(match[1]!));
    // A sign-in that fails stops the command, rather than leaving it to wait for its timeout;
    // its error is thrown below. A command that never asked leaves signIn rejected, unused.
    signIn.catch(() => {
      if (command.child.exitCode === null) process.kill(-command.child.pid!, "SIGTERM");
    });
    const code = await exit;
    const page = ASKED.test(command.stderr()) ? await signIn : undefined;
    const finished = { code, stdout: command.stdout(), stderr: command.stderr() };
    return page ? { ...finished, page } : finished;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

async function playBrowser(authorizeUrl: string): Promise<CliRun["page"]> {
  const base = new URL(authorizeUrl).origin;
  const browser = new Browser();
  let response = await browser.fetch(authorizeUrl);
  const html = await response.clone().text();
  const page = { status: response.status, type: response.headers.get("content-type") ?? "", html };
  for (let step = 0; step < 5 && response.status !== 303; step++) {
    const form = await response.text();
    response = form.includes('name="username"')
      ? await browser.submit(base, form, { username: "carol" })
      : await browser.submit(base, form, { decision: "allow" });
    const location = response.headers.get("location");
    if (response.status === 303 && location && new URL(location, base).origin === base) {
      response = await browser.fetch(new URL(location, base).href);
    }
  }
  const back = response.headers.get("location");
  expect(back).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
  const callback = await browser.fetch(back!);
  expect(callback.status).toBe(200);
  return page;
}
