/**
 * Tree-shaking over the installed package: a one-line consumer of `portcullis` bundled by
 * esbuild holds the MCP server and transport, and no module of the authorization server
 * (dist/auth, but for the SSRF guard it shares with task webhooks) nor its JSX runtime. The same consumer adding `portcullis/auth` shows the check
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

const ours = (inputs: string[], folder: string) =>
  inputs.filter((input) => input.startsWith(`node_modules/portcullis/dist/${folder}/`));

describe("importing portcullis alone", () => {
  it("does not pull in the authorization server", async () => {
    const server = await bundle(
      'import { McpServer, mcpApp } from "portcullis";\nexport default mcpApp(new McpServer({ name: "x", version: "1" }));',
    );
    expect(ours(server.inputs, "mcp").length).toBeGreaterThan(0);
    expect(ours(server.inputs, "http").length).toBeGreaterThan(0);
    // Only the SSRF guard, which the task webhooks share, comes from auth/; not the server.
    expect(ours(server.inputs, "auth")).toEqual(["node_modules/portcullis/dist/auth/ssrf.js"]);
    expect(server.inputs.filter((input) => input.includes("hono/dist/jsx"))).toEqual([]);

    const withAuth = await bundle(
      'import { McpServer, mcpApp } from "portcullis";\nimport { authorizationServer, devLogin } from "portcullis/auth";\nimport { memoryStore } from "portcullis/storage";\nexport default mcpApp(new McpServer({ name: "x", version: "1" }), { auth: authorizationServer({ store: memoryStore(), login: devLogin() }) });',
    );
    expect(ours(withAuth.inputs, "auth")).toContain("node_modules/portcullis/dist/auth/server.js");
    expect(withAuth.inputs.some((input) => input.includes("hono/dist/jsx"))).toBe(true);
    console.log(
      `one-line consumer, minified: portcullis ${server.bytes} bytes; with portcullis/auth ${withAuth.bytes} bytes`,
    );
  });
});
