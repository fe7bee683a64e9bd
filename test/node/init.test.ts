/**
 * `portcullis init`: copies a template with the project's name and this portcullis version
 * filled in, dotfiles restored, and refuses to write over an existing project. The scaffolds
 * themselves are installed and run from the packed tarball by test/consumer/scaffold.test.ts.
 */
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../src/node/cli/main.ts";

async function init(args: string[], cwd: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const code = await main(["init", ...args], {
    stdin: new PassThrough(),
    stdout,
    stderr,
    env: {},
    cwd,
  });
  return { code, stderr: err };
}

const VERSION = (
  JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

describe("portcullis init", () => {
  it("scaffolds a Node project named after its folder", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "portcullis-init-"));
    const run = await init(["My Server"], cwd);
    expect(run.code).toBe(0);
    const dir = join(cwd, "My Server");
    expect((await readdir(dir)).sort()).toEqual(
      [".env.example", ".gitignore", "README.md", "package.json", "src", "test"].sort(),
    );
    const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
    expect(manifest).toMatchObject({
      name: "my-server",
      dependencies: { portcullis: `^${VERSION}`, zod: expect.any(String) },
      scripts: { start: expect.any(String), test: expect.any(String) },
    });
    expect(manifest.dependencies["@hono/node-server"]).toBeDefined();
    expect(await readFile(join(dir, "src/app.js"), "utf8")).toContain('name: "my-server"');
    expect(run.stderr).toContain('cd "My Server"');
    expect(run.stderr).toContain("npm install");
  });

  it("scaffolds a Workers project with its wrangler.toml", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "portcullis-init-"));
    const run = await init(["edge", "--template", "workers"], cwd);
    expect(run.code).toBe(0);
    const toml = await readFile(join(cwd, "edge/wrangler.toml"), "utf8");
    expect(toml).toContain('name = "edge"');
    expect(toml).toContain('main = "src/index.ts"');
    const manifest = JSON.parse(await readFile(join(cwd, "edge/package.json"), "utf8"));
    expect(manifest.dependencies).toEqual({ portcullis: `^${VERSION}`, zod: expect.any(String) });
    expect(manifest.devDependencies.wrangler).toBeDefined();
  });

  it("writes nothing over a folder that has files, and refuses unknown templates", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "portcullis-init-"));
    await mkdir(join(cwd, "taken"));
    await writeFile(join(cwd, "taken/keep.txt"), "mine");
    const taken = await init(["taken"], cwd);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain("is not empty");
    expect(await readdir(join(cwd, "taken"))).toEqual(["keep.txt"]);

    const unknown = await init(["x", "--template", "deno"], cwd);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--template must be one of node, workers, not deno");
    expect(await readdir(cwd)).toEqual(["taken"]);
  });
});
