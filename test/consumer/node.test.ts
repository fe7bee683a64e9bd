/**
 * Plain JavaScript on Node 20 and Node 22, from the installed tarball: an open server and a
 * protected one (built-in authorization server, dev login), the sign-in page rendered by the
 * compiled JSX, and a full sign-in with the compiled `portcullis` command.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { callTool, expectSignInForm, portcullis, run, signInPage, start } from "./support.ts";

const { app, worker, node22 } = inject("consumer");

const nodes = [
  { name: "Node 20", node: process.execPath, major: 20 },
  { name: "Node 22", node: node22, major: 22 },
];

describe.each(nodes)("plain JavaScript on $name", ({ node, major }) => {
  it("serves open and protected endpoints; the sign-in page renders; the CLI signs in and calls a tool", async () => {
    expect((await run(node, ["--version"], { cwd: app })).stdout).toMatch(
      new RegExp(`^v${major}\\.`),
    );
    const servers = start(node, ["servers.mjs"], { cwd: app });
    const urls = JSON.parse((await servers.waitFor(/^\{.*\}$/m))[0]) as {
      open: string;
      locked: string;
    };

    // The open endpoint answers a tool call; the server runs on this Node.
    const open = await callTool(urls.open, "echo", { text: "hello" });
    expect(open.content[0]?.text).toMatch(new RegExp(`^hello \\(from anyone on v${major}\\.`));

    // The protected one asks for a token, and says where to get one.
    const refused = await fetch(urls.locked, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("resource_metadata=");

    // Its sign-in page renders (HTML, 200), not a 500.
    const issuer = new URL(urls.locked).origin;
    expectSignInForm(await signInPage(issuer, urls.locked));

    // The compiled CLI, run by this Node, signs in through the loopback redirect and calls.
    const cli = await portcullis(node, app, [
      "call",
      urls.locked,
      "echo",
      "--args",
      '{"text":"signed in"}',
      "--no-open",
      "--timeout",
      "60",
      "--auth-timeout",
      "120",
    ]);
    expect(cli.stderr).not.toMatch(/^portcullis:/m);
    expect(cli.code).toBe(0);
    expect(cli.page).toBeDefined();
    expectSignInForm(cli.page!);
    const result = JSON.parse(cli.stdout) as { content: { text: string }[] };
    expect(result.content[0]?.text).toMatch(new RegExp(`^signed in \\(from carol on v${major}\\.`));
  });
});

describe("the installed bin", () => {
  it("runs by its shebang with plain node, no tsx", async () => {
    const help = await run(join(app, "node_modules/.bin/portcullis"), ["--help"], { cwd: app });
    expect(help.code).toBe(0);
    expect(help.stdout + help.stderr).toContain("portcullis call <url> <tool>");
    expect(existsSync(join(app, "node_modules/tsx"))).toBe(false);
  });
});

describe("entry points without the optional peers", () => {
  it("load, and only serve() asks for @hono/node-server", async () => {
    // The Worker project has portcullis and zod only.
    expect(existsSync(join(worker, "node_modules/@hono/node-server"))).toBe(false);
    expect(existsSync(join(worker, "node_modules/ioredis"))).toBe(false);
    const entries = await run(process.execPath, ["entries.mjs"], { cwd: worker });
    expect(entries.stderr).toBe("");
    const report = JSON.parse(entries.stdout) as Record<string, unknown>;
    for (const entry of [
      "portcullis",
      "portcullis/auth",
      "portcullis/client",
      "portcullis/storage",
    ]) {
      expect(report[entry]).toBeGreaterThan(0);
    }
    expect(report.fileTokenStore).toEqual({
      "https://mcp.example/mcp": { accessToken: "t", tokenType: "Bearer" },
    });
    expect(report.loopbackRedirect).toBe("function");
    expect(report.serve).toBe(
      "serve() needs @hono/node-server, an optional peer dependency of portcullis: npm install @hono/node-server",
    );
    // Every export of portcullis/redis works on an ioredis client: that peer is the entry's own.
    expect(report.redis).toBe("ERR_MODULE_NOT_FOUND");
  });
});
