/**
 * The auth pages' JSX compiles to hono/jsx's automatic runtime from the files' own pragmas,
 * with no tsconfig to help: as esbuild (under tsx and wrangler too) compiles them for anyone
 * who bundles our sources. Without the runtime pragma they would call React.createElement.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { transform } from "esbuild";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

async function tsxFiles(): Promise<string[]> {
  const entries = await readdir(SRC, { recursive: true });
  return entries.filter((entry) => entry.endsWith(".tsx")).sort();
}

describe("JSX in src", () => {
  it("compiles to hono/jsx's automatic runtime by its pragmas alone", async () => {
    const files = await tsxFiles();
    expect(files).toContain("auth/pages.tsx");
    for (const file of files) {
      const source = await readFile(join(SRC, file), "utf8");
      const { code } = await transform(source, { loader: "tsx", format: "esm", tsconfigRaw: {} });
      expect(code, file).toMatch(/from "hono\/jsx\/jsx-runtime"/);
      expect(code, file).not.toContain("React");
    }
  });
});
