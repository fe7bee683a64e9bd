/**
 * `portcullis gateway`: one command in front of a stdio server, run as its own process and
 * signed in to by our client; a config file with several upstreams; usage mistakes.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "../../src/node/cli/args.ts";
import { splitCommand, startGatewayCommand } from "../../src/node/cli/gateway.ts";
import { main } from "../../src/node/cli/main.ts";
import { until } from "../helpers/async.ts";
import { AUDIENCE, startJwtIssuer } from "../helpers/jwt.ts";
import { EVERYTHING, FILESYSTEM, postToolCall, signedIn, tempDir } from "./support.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = ["--import", "tsx", join(ROOT, "src/node/cli/bin.ts")];

const texts = (result: { content: unknown[] }) =>
  result.content.map((block) => (block as { text?: string }).text ?? "").join("\n");

describe("portcullis gateway", () => {
  it('secures a stdio server with one command: --stdio "<command>"', async () => {
    const child = spawn(
      process.execPath,
      [...BIN, "gateway", "--stdio", `"${process.execPath}" ${EVERYTHING} stdio`, "--port", "0"],
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      await until(() => /serving (\S+)/.test(stderr) || child.exitCode !== null, 20_000);
      const url = /serving (\S+)/.exec(stderr)?.[1];
      expect(url, stderr).toMatch(/^http:\/\/localhost:\d+\/mcp$/);
      expect(stderr).toContain('upstream "upstream" ready');
      const { client } = await signedIn(url!.replace(/\/mcp$/, ""));
      const echoed = await client.callTool("upstream_echo", { message: "one command" });
      expect(texts(echoed)).toContain("one command");
      await client.close();
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 30_000);

  it("serves several upstreams from a config file, secrets from the environment", async () => {
    const dir = tempDir();
    const file = join(dir, "gateway.json");
    writeFileSync(
      file,
      JSON.stringify({
        upstreams: {
          everything: {
            command: process.execPath,
            args: [EVERYTHING, "stdio"],
            env: { API_KEY: `\${GATEWAY_TEST_KEY}` },
          },
          fs: {
            command: process.execPath,
            args: [FILESYSTEM, dir],
            scopes: { write_file: ["fs:write"] },
          },
        },
      }),
    );
    const running = await startGatewayCommand(file, parse(["--port", "0"]).values, {
      GATEWAY_TEST_KEY: "key-from-env",
    });
    try {
      expect(running.gateway.status().map((s) => [s.name, s.state])).toEqual([
        ["everything", "ready"],
        ["fs", "ready"],
      ]);
      const { client } = await signedIn(running.url.replace(/\/mcp$/, ""));
      expect(texts(await client.callTool("everything_get-env", {}))).toContain("key-from-env");
      const listed = await client.callTool("fs_list_directory", { path: dir });
      expect(texts(listed)).toContain("gateway.json");
      await client.close();
    } finally {
      await running.close();
    }
  }, 30_000);

  it("accepts tokens from a third-party issuer with --issuer, --jwks-url and --audience", async () => {
    const issuer = await startJwtIssuer();
    const stranger = await startJwtIssuer();
    const running = await startGatewayCommand(
      undefined,
      parse([
        "--stdio",
        `"${process.execPath}" ${EVERYTHING} stdio`,
        "--port",
        "0",
        "--issuer",
        issuer.issuer,
        "--jwks-url",
        `${issuer.issuer}/jwks`,
        "--audience",
        AUDIENCE,
      ]).values,
      {},
    );
    try {
      expect(running.signIn).toBe(`tokens from ${issuer.issuer}`);
      const call = (token: string) =>
        postToolCall(running.url, token, "upstream_echo", { message: "from an OIDC user" });
      const ok = await call(await issuer.sign({ sub: "oidc-user" }));
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("from an OIDC user");
      // Another audience, another issuer's key: refused, nothing forwarded.
      for (const token of [
        await issuer.sign({ sub: "oidc-user" }, "https://elsewhere.example/mcp"),
        await stranger.sign({ sub: "oidc-user" }),
      ]) {
        const refused = await call(token);
        expect(refused.status).toBe(401);
        expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
      }
      const base = running.url.replace(/\/mcp$/, "");
      const metadata = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
      expect(await metadata.json()).toMatchObject({ authorization_servers: [issuer.issuer] });
      // No built-in authorization server is served.
      expect((await fetch(`${base}/.well-known/oauth-authorization-server`)).status).toBe(404);
    } finally {
      await running.close();
    }
  }, 30_000);

  it("reports usage mistakes with status 2", async () => {
    const dir = tempDir();
    const missingVar = join(dir, "bad.json");
    writeFileSync(
      missingVar,
      JSON.stringify({
        upstreams: { a: { url: "http://127.0.0.1:1/mcp", headers: { x: `\${NOPE_NOT_SET}` } } },
      }),
    );
    for (const argv of [
      ["gateway"],
      ["gateway", "--stdio", "x", "--url", "http://127.0.0.1/mcp"],
      ["gateway", "--url", "http://127.0.0.1/mcp", "--port", "nope"],
      ["gateway", join(dir, "missing.json")],
      ["gateway", missingVar],
      ["gateway", "--url", "http://127.0.0.1/mcp", "--audience", "https://a.example/mcp"],
      ["gateway", "--url", "http://127.0.0.1/mcp", "--issuer", "http://idp.example.com"],
      ["gateway", "--url", "http://127.0.0.1/mcp", "--issuer", "not a url"],
    ]) {
      const stderr = new PassThrough();
      let text = "";
      stderr.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      const status = await main(argv, {
        stdin: new PassThrough(),
        stdout: new PassThrough(),
        stderr,
        env: {},
      });
      expect(status, `${argv.join(" ")}: ${text}`).toBe(2);
    }
  });

  it("splits a command line, keeping quoted words whole", () => {
    expect(splitCommand(`npx -y "@scope/server" 'a b' c`)).toEqual([
      "npx",
      "-y",
      "@scope/server",
      "a b",
      "c",
    ]);
  });
});
