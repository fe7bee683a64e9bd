import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "./args.ts";
import { PACKAGE_ROOT, packageVersion } from "./version.ts";

/** The project templates in the package's templates/ folder. */
const TEMPLATES = ["node", "workers"] as const;
type Template = (typeof TEMPLATES)[number];

export interface InitIo {
  cwd: string;
  say: (line: string) => void;
}

/** An npm package name from a folder name: lower case, and only the characters npm allows. */
function packageName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, "-")
    .replace(/^[._-]+|[-]+$/g, "");
  return name || "my-mcp-server";
}

/** Files are stored with `_` for a leading dot: npm would leave `.gitignore` out of the tarball. */
function targetName(name: string): string {
  return name.startsWith("_") ? `.${name.slice(1)}` : name;
}

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    if (!(await stat(dir)).isDirectory()) return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw error;
  }
  return (await readdir(dir)).every((name) => name === ".git");
}

/**
 * `portcullis init [dir] --template node|workers`: copies a template into `dir` (default
 * my-mcp-server, which must be empty or new), with the project's name and this version of
 * portcullis filled in, and says what to run next.
 */
export async function init(
  dir: string | undefined,
  template: string | undefined,
  io: InitIo,
): Promise<number> {
  const kind = (template ?? "node") as Template;
  if (!TEMPLATES.includes(kind)) {
    throw new UsageError(`--template must be one of ${TEMPLATES.join(", ")}, not ${template}`);
  }
  const target = resolve(io.cwd, dir ?? "my-mcp-server");
  if (!(await isEmptyOrMissing(target))) {
    throw new Error(`${target} is not empty; choose a new folder`);
  }
  const source = fileURLToPath(new URL(`templates/${kind}/`, PACKAGE_ROOT));
  const values: Record<string, string> = {
    name: packageName(target),
    portcullis: `^${await packageVersion()}`,
  };
  for (const file of await files(source)) {
    const text = await readFile(join(source, file), "utf8");
    const filled = text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
    const out = join(target, ...file.split(/[\\/]/).map(targetName));
    await mkdir(resolve(out, ".."), { recursive: true });
    await writeFile(out, filled);
  }
  const shown = relative(io.cwd, target) || ".";
  io.say(
    [
      `Created a ${kind} MCP server in ${target}. Next:`,
      "",
      ...(shown === "."
        ? []
        : [`  cd ${/^[\w./-]+$/.test(shown) ? shown : JSON.stringify(shown)}`]),
      "  npm install",
      "  npm start     # the server, with sign-in through the built-in authorization server",
      "  npm test      # starts it and calls a tool",
      "",
      "README.md there says how to connect MCP Inspector, mcp-remote and `portcullis connect`.",
    ].join("\n"),
  );
  return 0;
}
