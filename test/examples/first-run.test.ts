/**
 * `npm start` on a first run: the demo reads .env when there is one, says so, and prints on
 * stderr where it serves, that /mcp is protected, how to sign in and how to connect clients.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const ENTRY = fileURLToPath(new URL("../../examples/demo/node.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

/** Starts the demo in `cwd` and resolves with its stderr once the banner is complete. */
function start(cwd: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TSX, ENTRY], {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("Ctrl-C stops the server.")) resolve(stderr);
    });
    child.once("exit", (code) => reject(new Error(`the demo exited (${code}):\n${stderr}`)));
  });
}

describe("npm start", () => {
  it("reads .env, says so, and tells how to sign in and connect", { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-first-run-"));
    const envFile = join(dir, ".env");
    // Port 0 from .env alone: were the file ignored, the demo would take 3000.
    await writeFile(envFile, "PORT=0\n");
    const banner = await start(dir);
    const mcp = /MCP endpoint at (http:\/\/localhost:(\d+)\/mcp)$/m.exec(banner);
    expect(mcp?.[2]).not.toBe("3000");
    const url = mcp![1]!;
    expect(banner).toContain(`Settings read from ${envFile}.`);
    expect(banner).toContain(`${url} is protected by the built-in OAuth 2.1 authorization server`);
    expect(banner).toContain("Sign in with the dev login");
    expect(banner).toContain("npx @modelcontextprotocol/inspector");
    expect(banner).toContain(`npx mcp-remote ${url}\n`);
    expect(banner).toContain(`npm run cli -- connect ${url}\n`);

    // What it says is so: /mcp wants a token, and the metadata it names is there.
    const refused = await fetch(url, { method: "POST", body: "{}" });
    expect(refused.status).toBe(401);
    const origin = new URL(url).origin;
    const metadata = await fetch(`${origin}/.well-known/oauth-authorization-server`);
    expect(await metadata.json()).toMatchObject({ issuer: origin });
  });

  it("says when there is no .env", { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-first-run-"));
    const banner = await start(dir, { PORT: "0" });
    expect(banner).toContain("No .env here: defaults apply");
  });
});
