import { readFile } from "node:fs/promises";

/** The package root: src/node/cli and dist/node/cli both sit three levels below it. */
export const PACKAGE_ROOT = new URL("../../../", import.meta.url);

/** The version in portcullis's package.json. */
export async function packageVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL("package.json", PACKAGE_ROOT), "utf8")) as {
    version?: unknown;
  };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}
