/**
 * Packs the package (prepack builds dist/), then installs the tarball into fresh folders
 * outside the repository, as a user would, and hands their paths to the tests:
 * - `app`: portcullis with the Node peer, zod and @types/node (tsc and esbuild run from here);
 * - `worker`: a user's own Worker project, with portcullis and zod only (so no optional peer).
 * PORTCULLIS_TARBALL names a tarball packed already (CI packs once for publint, attw and this).
 * Node 22 comes from the `node` package in .tools/ (git-ignored), installed on first use.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURES = join(ROOT, "test/consumer/fixtures");
const NODE_22 = "22.23.3";

declare module "vitest" {
  export interface ProvidedContext {
    consumer: { tarball: string; app: string; worker: string; node22: string; root: string };
  }
}

/** The README's quick start, verbatim: the code a new user copies first. */
async function quickStart(): Promise<string> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const code = /^## Quick start\n\n```ts\n([\s\S]*?)^```/m.exec(readme)?.[1];
  if (!code) throw new Error("README.md has no ts block under ## Quick start");
  return code;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    maxBuffer: 64 << 20,
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  return stdout;
}

async function pack(into: string): Promise<string> {
  const given = process.env.PORTCULLIS_TARBALL;
  if (given) return resolve(given);
  await npm(["pack", "--pack-destination", into], ROOT);
  const tarball = (await readdir(into)).find((name) => name.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack left no tarball in ${into}`);
  return join(into, tarball);
}

async function node22(): Promise<string> {
  const bin = join(ROOT, ".tools/node_modules/.bin/node");
  const version = await run(bin, ["-v"]).then(
    ({ stdout }) => stdout.trim(),
    () => "",
  );
  if (version === `v${NODE_22}`) return bin;
  await mkdir(join(ROOT, ".tools"), { recursive: true });
  await npm(
    ["install", "--prefix", ".tools", "--no-save", "--no-package-lock", `node@${NODE_22}`],
    ROOT,
  );
  return bin;
}

/** The versions this repository pins, so a consumer folder installs what CI already cached. */
async function pins(): Promise<Record<string, string>> {
  const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  return { ...manifest.dependencies, ...manifest.devDependencies };
}

async function project(
  dir: string,
  tarball: string,
  dependencies: Record<string, string>,
): Promise<void> {
  const manifest = {
    name: "consumer",
    private: true,
    type: "module",
    dependencies: { portcullis: `file:${tarball}`, ...dependencies },
  };
  await writeFile(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await npm(["install", "--prefer-offline"], dir);
}

export default async function setup(project_: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), "portcullis-consumer-"));
  const cleanup = () => rm(root, { recursive: true, force: true });
  try {
    const app = join(root, "app");
    const worker = join(root, "worker");
    await cp(join(FIXTURES, "app"), app, { recursive: true });
    await cp(join(FIXTURES, "worker"), worker, { recursive: true });
    await writeFile(join(app, "quickstart.ts"), await quickStart());
    const versions = await pins();
    const pick = (...names: string[]) =>
      Object.fromEntries(names.map((name) => [name, versions[name]!]));
    const started = Date.now();
    const [tarball, node] = await Promise.all([pack(root), node22()]);
    console.log(`consumer: packed ${tarball} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await Promise.all([
      project(app, tarball, pick("zod", "@hono/node-server", "@types/node")),
      project(worker, tarball, pick("zod")),
    ]);
    console.log(
      `consumer: installed into ${root} after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    project_.provide("consumer", { tarball, app, worker, node22: node, root });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return cleanup;
}
