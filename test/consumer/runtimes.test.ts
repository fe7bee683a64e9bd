/**
 * The README quick start, as installed, under Bun and Deno (packages from the project's
 * node_modules): it serves, and answers a tool call. The only change to the README's code is
 * the port: 0 picks a free one.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { bin, callTool, start } from "./support.ts";

const { app } = inject("consumer");

beforeAll(async () => {
  const code = await readFile(join(app, "quickstart.ts"), "utf8");
  expect(code.match(/port: 3000/g)).toHaveLength(1);
  await writeFile(join(app, "quickstart-port0.ts"), code.replace("port: 3000", "port: 0"));
});

describe.each([
  { name: "Bun", command: bin("bun"), args: ["quickstart-port0.ts"] },
  {
    name: "Deno",
    command: bin("deno"),
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "--no-lock",
      "quickstart-port0.ts",
    ],
  },
])("the quick start under $name", ({ command, args }) => {
  it("serves and answers a tool call", async () => {
    const server = start(command, args, { cwd: app });
    const mcpUrl = (await server.waitFor(/MCP endpoint at (http:\/\/\S+)/))[1]!;
    const result = await callTool(mcpUrl, "add_note", { text: "from a consumer" });
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent?.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
