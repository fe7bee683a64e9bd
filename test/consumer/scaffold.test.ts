/**
 * `portcullis init` from the installed tarball, as `npx portcullis init` runs it: each
 * scaffold, its portcullis pointed at the tarball (it is not on npm yet), installs and passes
 * its own `npm test` (Node: the server started, a tool called through the authorization
 * server), and the Workers scaffold builds with `wrangler deploy --dry-run`.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ROOT, run } from "./support.ts";

const { app, root, tarball } = inject("consumer");
/** The versions this repository pins, so installs hit what CI already cached. */
const pinned = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};

async function scaffold(name: string, template: string): Promise<string> {
  const made = await run(
    join(app, "node_modules/.bin/portcullis"),
    ["init", name, "--template", template],
    { cwd: root },
  );
  expect(made.stderr).toContain(`Created a ${template} MCP server`);
  expect(made.code).toBe(0);
  const dir = join(root, name);
  const manifestPath = join(dir, "package.json");
  const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  expect(manifest.dependencies.portcullis).toMatch(/^\^\d+\.\d+\.\d+/);
  manifest.dependencies.portcullis = `file:${tarball}`;
  if (manifest.devDependencies?.wrangler) {
    manifest.devDependencies.wrangler = pinned.devDependencies.wrangler!;
  }
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const installed = await run(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
    { cwd: dir },
  );
  expect(installed.stderr).not.toMatch(/ERR!/);
  expect(installed.code).toBe(0);
  return dir;
}

describe("portcullis init, from the tarball", () => {
  it("makes a Node project whose own npm test starts it and calls a tool", async () => {
    const dir = await scaffold("scaffold-node", "node");
    const tested = await run("npm", ["test"], { cwd: dir });
    expect(tested.stdout).toMatch(/^# pass 2$/m);
    expect(tested.stdout).toMatch(/^# fail 0$/m);
    expect(tested.code).toBe(0);
  });

  it("makes a Workers project that wrangler builds", async () => {
    const dir = await scaffold("scaffold-workers", "workers");
    const built = await run("npm", ["run", "build"], { cwd: dir });
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toContain("--dry-run: exiting now.");
    expect(existsSync(join(dir, "dist/index.js"))).toBe(true);
  });
});
