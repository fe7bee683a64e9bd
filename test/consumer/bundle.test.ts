/**
 * Tree-shaking over the installed package: a one-line consumer of `portcullis` bundled by
 * esbuild holds the MCP server and transport, and no module of the authorization server (its
 * app, endpoints, pages, logins) nor its JSX runtime. (The SSRF guard in dist/auth/ comes
 * along: the task webhooks use it.) The same consumer adding `portcullis/auth` shows the check
 * can fail. Sizes are printed for the record.
 */
import { build } from "esbuild";
import { describe, expect, inject, it } from "vitest";

const { app } = inject("consumer");

async function bundle(source: string): Promise<{ inputs: string[]; bytes: number }> {
  const result = await build({
    stdin: { contents: source, resolveDir: app, loader: "js" },
    absWorkingDir: app,
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  return {
    inputs: Object.keys(result.metafile.inputs),
    bytes: result.outputFiles[0]!.contents.byteLength,
  };
}

/** The authorization server's own modules: its app, endpoints, pages and logins. */
const AUTHORIZATION_SERVER =
  /\/dist\/auth\/(server|authorize|token|tokens|clients|pages|login\/.*)\.js$/;

const ours = (inputs: string[], folder: string) =>
  inputs.filter((input) => input.startsWith(`node_modules/portcullis/dist/${folder}/`));

describe("importing portcullis alone", () => {
  it("does not pull in the authorization server", async () => {
    const server = await bundle(
      'import { McpServer, mcpApp } from "portcullis";\nexport default mcpApp(new McpServer({ name: "x", version: "1" }));',
    );
    expect(ours(server.inputs, "mcp").length).toBeGreaterThan(0);
    expect(ours(server.inputs, "http").length).toBeGreaterThan(0);
    // The task webhooks share the SSRF guard, which lives in auth/; nothing of the server does.
    expect(ours(server.inputs, "auth").filter((input) => AUTHORIZATION_SERVER.test(input))).toEqual(
      [],
    );
    expect(server.inputs.filter((input) => input.includes("hono/dist/jsx"))).toEqual([]);

    const withAuth = await bundle(
      'import { McpServer, mcpApp } from "portcullis";\nimport { authorizationServer, devLogin } from "portcullis/auth";\nimport { memoryStore } from "portcullis/storage";\nexport default mcpApp(new McpServer({ name: "x", version: "1" }), { auth: authorizationServer({ store: memoryStore(), login: devLogin() }) });',
    );
    expect(
      ours(withAuth.inputs, "auth").filter((input) => AUTHORIZATION_SERVER.test(input)),
    ).toEqual(
      expect.arrayContaining([
        "node_modules/portcullis/dist/auth/server.js",
        "node_modules/portcullis/dist/auth/pages.js",
        "node_modules/portcullis/dist/auth/login/dev.js",
      ]),
    );
    expect(withAuth.inputs.some((input) => input.includes("hono/dist/jsx"))).toBe(true);
    console.log(
      `one-line consumer, minified: portcullis ${server.bytes} bytes; with portcullis/auth ${withAuth.bytes} bytes`,
    );
  });
});
