/**
 * The Skills extension (SEP-2640, `io.modelcontextprotocol/skills`), server side: each file of
 * a skill served as a `skill://<skill-path>/<file>` resource, `skills/list` and `skills/get`
 * with digests and sizes, and `resources/directory/read` — all on the extension seam.
 */
import { toHex } from "../util/bytes.ts";
import { digest } from "../util/crypto.ts";
import { FrontmatterError, parseFrontmatter } from "./frontmatter.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import { paginate } from "./listing.ts";
import { stringParam } from "./methods.ts";
import type { Exchange } from "./peer.ts";
import { resourceNotFound } from "./resources.ts";
import type { McpServer } from "./server.ts";
import type { JsonObject } from "./types.ts";
import { isModernVersion } from "./versions.ts";

export const SKILLS_EXTENSION = "io.modelcontextprotocol/skills";
/** The MIME type of a directory resource. */
export const DIRECTORY_MIME_TYPE = "inode/directory";

/** One skill: where it lives in the `skill://` namespace and its files. */
export interface SkillSource {
  /** One or more `/`-separated segments; the last is the skill's name (its frontmatter name). */
  path: string;
  /** Its files by path from the skill's root, UTF-8 text; `SKILL.md` is required. */
  files: Readonly<Record<string, string>>;
  /** Whether skills/list shows it (default true); skills/get and reads answer either way. */
  listed?: boolean;
}

export interface SkillsOptions {
  skills: readonly SkillSource[];
  /** Serve `resources/directory/read`, declared as `directoryRead: true`. Default true. */
  directoryRead?: boolean;
  /** OAuth scopes the skill files need, as for any resource. */
  scopes?: readonly string[];
}

/** A skill as `skills/list` and `skills/get` describe it. */
interface Entry {
  uri: string;
  frontmatter: JsonObject;
  resources: { uri: string; digest: string; size: number }[];
}

const NAME = /^(?!.*--)[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/;
const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const MAX_FILES = 512;
const MAX_BYTES = 16 * 1024 * 1024;
const encoder = new TextEncoder();

const MIME_TYPES: Record<string, string> = {
  md: "text/markdown",
  txt: "text/plain",
  json: "application/json",
  py: "text/x-python",
  js: "text/javascript",
  ts: "text/plain",
  sh: "text/x-shellscript",
  html: "text/html",
  yaml: "application/yaml",
  yml: "application/yaml",
};

function mimeTypeOf(file: string): string {
  return MIME_TYPES[file.split(".").pop()?.toLowerCase() ?? ""] ?? "text/plain";
}

/** Checks one skill against the SEP's rules; throws TypeError naming what is wrong. */
function checked(source: SkillSource): { path: string; frontmatter: JsonObject } {
  const segments = source.path.split("/");
  if (!segments.every((segment) => SEGMENT.test(segment) && segment !== "." && segment !== "..")) {
    throw new TypeError(`Skill path "${source.path}" has an empty or invalid segment`);
  }
  const name = segments.at(-1)!;
  if (!NAME.test(name)) throw new TypeError(`Skill name "${name}" breaks the naming rules`);
  const text = source.files["SKILL.md"];
  if (text === undefined) throw new TypeError(`Skill "${source.path}" has no SKILL.md`);
  let frontmatter: JsonObject;
  try {
    frontmatter = parseFrontmatter(text);
  } catch (error) {
    if (error instanceof FrontmatterError) {
      throw new TypeError(`Skill "${source.path}": ${error.message}`);
    }
    throw error;
  }
  if (frontmatter.name !== name) {
    throw new TypeError(`Skill "${source.path}": frontmatter name must be "${name}"`);
  }
  if (typeof frontmatter.description !== "string" || frontmatter.description === "") {
    throw new TypeError(`Skill "${source.path}": frontmatter needs a description`);
  }
  const files = Object.keys(source.files);
  for (const file of files) {
    if (!file.split("/").every((segment) => SEGMENT.test(segment) && !/^\.\.?$/.test(segment))) {
      throw new TypeError(`Skill "${source.path}": file path "${file}" is invalid`);
    }
  }
  const bytes = files.reduce((sum, file) => sum + encoder.encode(source.files[file]).length, 0);
  if (files.length > MAX_FILES || bytes > MAX_BYTES) {
    throw new TypeError(`Skill "${source.path}" exceeds ${MAX_FILES} files or 16 MiB`);
  }
  return { path: source.path, frontmatter };
}

async function entryOf(source: SkillSource, frontmatter: JsonObject): Promise<Entry> {
  const root = `skill://${source.path}`;
  // SKILL.md first: the entry that matches the skill's own uri.
  const files = ["SKILL.md", ...Object.keys(source.files).filter((f) => f !== "SKILL.md")];
  const resources = await Promise.all(
    files.map(async (file) => {
      const text = source.files[file]!;
      return {
        uri: `${root}/${file}`,
        digest: `sha256:${toHex(await digest(text))}`,
        size: encoder.encode(text).length,
      };
    }),
  );
  return { uri: `${root}/SKILL.md`, frontmatter, resources };
}

/** 2026-07-28 results of skills/list and skills/get carry the list-caching attributes. */
function cacheable(result: JsonObject, exchange: Exchange): JsonObject {
  if (!isModernVersion(exchange.peer.protocolVersion)) return result;
  return { ...result, ttlMs: 0, cacheScope: exchange.auth ? "private" : "public" };
}

/**
 * Serves skills on `mcp` (SEP-2640): registers each skill's files as `skill://` resources
 * (the SKILL.md listed, with name and description from its frontmatter; the other files
 * readable through one `skill://{+file}` template) and the extension with `skills/list`,
 * `skills/get` and, unless turned off, `resources/directory/read`. Skills are checked now:
 * naming rules, frontmatter, file paths and the 512-file / 16 MiB limits (TypeError).
 * Skills are public to every caller the endpoint admits, like its resource list.
 */
export function serveSkills(mcp: McpServer, options: SkillsOptions): void {
  const directoryRead = options.directoryRead ?? true;
  const scopes = options.scopes ? { scopes: options.scopes } : {};
  const files = new Map<string, string>();
  const skills = options.skills.map((source) => ({ source, ...checked(source) }));
  const byUri = new Map<string, (typeof skills)[number]>();
  for (const skill of skills) {
    const uri = `skill://${skill.path}/SKILL.md`;
    if (byUri.has(uri)) throw new TypeError(`Skill "${skill.path}" is registered twice`);
    byUri.set(uri, skill);
    for (const [file, text] of Object.entries(skill.source.files)) {
      files.set(`skill://${skill.path}/${file}`, text);
    }
    const { name, description } = skill.frontmatter as { name: string; description: string };
    const text = skill.source.files["SKILL.md"]!;
    mcp.resource(uri, { name, description, mimeType: "text/markdown", ...scopes }, () => ({
      text,
      mimeType: "text/markdown",
    }));
  }
  mcp.resource(
    "skill://{+file}",
    { name: "skill-files", description: "Supporting files of the skills", ...scopes },
    (_variables, _ctx, uri) => {
      const text = files.get(uri);
      if (text === undefined) throw resourceNotFound(uri);
      return { text, mimeType: mimeTypeOf(uri) };
    },
  );
  let entries: Promise<Map<string, Entry>> | undefined;
  const entryMap = () => {
    entries ??= Promise.all(skills.map((s) => entryOf(s.source, s.frontmatter))).then(
      (list) => new Map(list.map((entry) => [entry.uri, entry])),
    );
    return entries;
  };
  const listed = new Set(skills.filter((s) => s.source.listed !== false).map((s) => s.path));
  const directories = directoryTree(files.keys());
  mcp.extension(SKILLS_EXTENSION, {
    settings: directoryRead ? { directoryRead: true } : {},
    methods: {
      "skills/list": async (params, _ctx, exchange) => {
        const all = [...(await entryMap()).values()].filter((entry) =>
          listed.has(entry.uri.slice("skill://".length, -"/SKILL.md".length)),
        );
        const page = paginate(all as unknown as JsonObject[], params.cursor, mcp.pageSize);
        const result: JsonObject = { skills: page.items };
        if (page.nextCursor) result.nextCursor = page.nextCursor;
        return cacheable(result, exchange);
      },
      "skills/get": async (params, _ctx, exchange) => {
        const uri = stringParam(params, "uri");
        const entry = (await entryMap()).get(uri);
        if (!entry) {
          throw new McpError(ErrorCode.InvalidParams, `Not a skill this server serves: ${uri}`, {
            uri,
          });
        }
        return cacheable({ skill: entry as unknown as JsonObject }, exchange);
      },
      ...(directoryRead && {
        "resources/directory/read": (params) => {
          const uri = stringParam(params, "uri");
          const children = directories.get(uri);
          if (!children) {
            throw new McpError(ErrorCode.InvalidParams, `Not a directory resource: ${uri}`, {
              uri,
            });
          }
          const page = paginate(children, params.cursor, mcp.pageSize);
          return page.nextCursor
            ? { resources: page.items, nextCursor: page.nextCursor }
            : { resources: page.items };
        },
      }),
    },
  });
}

/** Every directory of the served files (skill roots and below), with its direct children. */
function directoryTree(uris: Iterable<string>): Map<string, JsonObject[]> {
  const tree = new Map<string, Map<string, JsonObject>>();
  const add = (dir: string, child: string, info: JsonObject) => {
    let children = tree.get(dir);
    if (!children) tree.set(dir, (children = new Map()));
    children.set(child, info);
  };
  for (const uri of uris) {
    const parts = uri.slice("skill://".length).split("/");
    for (let depth = parts.length - 1; depth >= 1; depth--) {
      const dir = `skill://${parts.slice(0, depth).join("/")}`;
      const child = `${dir}/${parts[depth]}`;
      const name = parts[depth]!;
      add(
        dir,
        child,
        depth === parts.length - 1
          ? { uri: child, name, mimeType: mimeTypeOf(name) }
          : { uri: child, name, mimeType: DIRECTORY_MIME_TYPE },
      );
    }
  }
  return new Map([...tree].map(([dir, children]) => [dir, [...children.values()]]));
}
