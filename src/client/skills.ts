/**
 * The Skills extension (SEP-2640), client side: the server's skill entries, and loading a
 * skill the way the SEP asks of a host — files fetched only when needed, each checked
 * against the entry's size and digest, the SKILL.md frontmatter compared with the entry's,
 * and no file outside the entry read while acting on it.
 */
import { FrontmatterError, parseFrontmatter } from "../mcp/frontmatter.ts";
import type { JsonObject } from "../mcp/types.ts";
import { toHex } from "../util/bytes.ts";
import { digest } from "../util/crypto.ts";
import { PortcullisError } from "../util/errors.ts";
import type { McpClient } from "./client.ts";
import type { RequestOptions } from "./connection.ts";

export const SKILLS_EXTENSION = "io.modelcontextprotocol/skills";

/** Why a skill could not be listed, loaded or read. */
export type SkillErrorCode =
  /** The server did not declare the extension (or `directoryRead`, for a directory read). */
  | "ERR_SKILL_UNSUPPORTED"
  /** The entry breaks the SEP's rules (no resources, over the limits, a bad field). */
  | "ERR_SKILL_INVALID"
  /** A file's bytes, size or frontmatter do not match the entry: it must not be used. */
  | "ERR_SKILL_VERIFICATION"
  /** A file the entry does not list was asked for while acting on the skill. */
  | "ERR_SKILL_UNLISTED";

export class SkillError extends PortcullisError {
  declare readonly code: SkillErrorCode;
  /** The file or skill the error is about. */
  readonly uri: string | undefined;

  constructor(code: SkillErrorCode, message: string, uri?: string) {
    super(code, message);
    this.name = "SkillError";
    this.uri = uri;
  }
}

/** One file of a skill, as its entry lists it. */
export interface SkillFile {
  uri: string;
  digest: string;
  size: number;
}

/** A skill as skills/list or skills/get describes it. */
export interface SkillEntry {
  /** The URI of its SKILL.md. */
  uri: string;
  /** Its SKILL.md frontmatter (name and description at least). */
  frontmatter: JsonObject & { name: string; description: string };
  /** Every file of the skill, or "dynamic" for a skill with no stable digests. */
  resources: SkillFile[] | "dynamic";
}

/** A loaded skill: its verified SKILL.md, and the entry its files are checked against. */
export interface LoadedSkill {
  entry: SkillEntry;
  /** The SKILL.md text, verified. */
  text: string;
  /** The skill's root: relative references resolve against it. */
  root: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MAX_FILES = 512;
const MAX_BYTES = 16 * 1024 * 1024;
const encoder = new TextEncoder();

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (!sameJson((a as JsonObject)[key] ?? null, (b as JsonObject)[key] ?? null)) return false;
  }
  return true;
}

/** An entry from the wire, checked; throws ERR_SKILL_INVALID. */
export function parseSkillEntry(value: unknown): SkillEntry {
  const entry = value as Partial<SkillEntry> | null;
  const uri = typeof entry?.uri === "string" ? entry.uri : undefined;
  const invalid = (why: string) =>
    new SkillError("ERR_SKILL_INVALID", `Skill entry ${uri ?? "(no uri)"}: ${why}`, uri);
  if (!uri?.endsWith("/SKILL.md")) throw invalid("uri must name a SKILL.md");
  const frontmatter = entry?.frontmatter;
  if (typeof frontmatter !== "object" || frontmatter === null || Array.isArray(frontmatter)) {
    throw invalid("no frontmatter object");
  }
  if (typeof frontmatter.name !== "string" || typeof frontmatter.description !== "string") {
    throw invalid("frontmatter needs name and description");
  }
  if (uri.split("/").at(-2) !== frontmatter.name) throw invalid("uri does not end in its name");
  const resources = entry?.resources;
  if (resources === "dynamic") return { uri, frontmatter, resources };
  if (!Array.isArray(resources)) throw invalid('resources must be a list or "dynamic"');
  const root = uri.slice(0, -"SKILL.md".length);
  let total = 0;
  for (const file of resources as unknown[]) {
    const f = file as Partial<SkillFile> | null;
    if (typeof f?.uri !== "string" || !f.uri.startsWith(root)) throw invalid("a file outside it");
    if (typeof f.digest !== "string" || !DIGEST.test(f.digest)) throw invalid("a bad digest");
    if (typeof f.size !== "number" || !Number.isSafeInteger(f.size) || f.size < 0) {
      throw invalid("a file without a size");
    }
    total += f.size;
  }
  if (!resources.some((file: SkillFile) => file.uri === uri)) throw invalid("SKILL.md not listed");
  if (resources.length > MAX_FILES || total > MAX_BYTES) {
    throw invalid(`over the limits (${MAX_FILES} files, 16 MiB)`);
  }
  return { uri, frontmatter, resources: resources as SkillFile[] };
}

/**
 * The Skills extension on a connected client. Nothing is fetched ahead of need: listing
 * reads entries only, `load` fetches the SKILL.md, `read` one file when asked.
 *
 * ```ts
 * const skills = new Skills(client);
 * const [entry] = await skills.list();
 * const skill = await skills.load(entry);            // verified SKILL.md
 * const forms = await skills.read(skill, "references/FORMS.md");
 * ```
 */
export class Skills {
  readonly #client: McpClient;
  readonly #onInvalid: ((error: SkillError) => void) | undefined;

  /** `onInvalidEntry` hears each listed entry left out for breaking the rules. */
  constructor(client: McpClient, options: { onInvalidEntry?: (error: SkillError) => void } = {}) {
    this.#client = client;
    this.#onInvalid = options.onInvalidEntry;
  }

  /** Whether the server declared the extension. */
  get supported(): boolean {
    return this.#client.extension(SKILLS_EXTENSION) !== undefined;
  }

  #require(): JsonObject {
    const settings = this.#client.extension(SKILLS_EXTENSION);
    if (!settings) {
      throw new SkillError(
        "ERR_SKILL_UNSUPPORTED",
        `The server did not declare ${SKILLS_EXTENSION}`,
      );
    }
    return settings;
  }

  /**
   * Every skill the server lists, across pages; an entry that breaks the rules is left out
   * (see `onInvalidEntry`). An empty list does not mean the server has no skills.
   */
  async list(options: RequestOptions = {}): Promise<SkillEntry[]> {
    this.#require();
    const entries: SkillEntry[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const result = await this.#client.request("skills/list", cursor ? { cursor } : {}, options);
      for (const raw of Array.isArray(result.skills) ? result.skills : []) {
        try {
          entries.push(parseSkillEntry(raw));
        } catch (error) {
          if (!(error instanceof SkillError)) throw error;
          this.#onInvalid?.(error);
        }
      }
      cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
      if (cursor !== undefined && seen.has(cursor)) break; // A server that loops: stop.
      if (cursor !== undefined) seen.add(cursor);
    } while (cursor);
    return entries;
  }

  /** The entry of one skill by its SKILL.md URI, listed or not (skills/get). */
  async get(uri: string, options: RequestOptions = {}): Promise<SkillEntry> {
    this.#require();
    const result = await this.#client.request("skills/get", { uri }, options);
    return parseSkillEntry(result.skill);
  }

  /**
   * Loads a skill: fetches its SKILL.md and checks it against the entry — size and digest
   * (unless "dynamic"), then the frontmatter field by field. Any mismatch: ERR_SKILL_VERIFICATION,
   * and the skill must not be used. A URI alone is first turned into its entry (skills/get).
   */
  async load(skill: SkillEntry | string, options: RequestOptions = {}): Promise<LoadedSkill> {
    const entry = typeof skill === "string" ? await this.get(skill, options) : skill;
    const text = await this.#fetch(entry, entry.uri, options);
    let frontmatter: JsonObject;
    try {
      frontmatter = parseFrontmatter(text);
    } catch (error) {
      if (!(error instanceof FrontmatterError)) throw error;
      throw new SkillError("ERR_SKILL_VERIFICATION", `${entry.uri}: ${error.message}`, entry.uri);
    }
    if (!sameJson(frontmatter, entry.frontmatter)) {
      throw new SkillError(
        "ERR_SKILL_VERIFICATION",
        `${entry.uri}: its frontmatter differs from the entry's`,
        entry.uri,
      );
    }
    return { entry, text, root: entry.uri.slice(0, -"SKILL.md".length) };
  }

  /**
   * Reads a file of a loaded skill by its path from the skill's root (or its full URI),
   * verified against the entry. A file the entry does not list is ERR_SKILL_UNLISTED: get a
   * fresh entry (and approval) with `get` first.
   */
  read(skill: LoadedSkill, path: string, options: RequestOptions = {}): Promise<string> {
    const uri = path.includes("://") ? path : new URL(path, skill.root).href;
    return this.#fetch(skill.entry, uri, options);
  }

  /** The direct children of a directory resource (resources/directory/read), across pages. */
  async directory(uri: string, options: RequestOptions = {}): Promise<JsonObject[]> {
    if (this.#require().directoryRead !== true) {
      throw new SkillError("ERR_SKILL_UNSUPPORTED", "The server did not declare directoryRead");
    }
    const children: JsonObject[] = [];
    let cursor: string | undefined;
    const seen = new Set<string>();
    do {
      const params: JsonObject = cursor ? { uri, cursor } : { uri };
      const result = await this.#client.request("resources/directory/read", params, options);
      if (Array.isArray(result.resources)) children.push(...(result.resources as JsonObject[]));
      cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
      if (cursor !== undefined && seen.has(cursor)) break;
      if (cursor !== undefined) seen.add(cursor);
    } while (cursor);
    return children;
  }

  async #fetch(entry: SkillEntry, uri: string, options: RequestOptions): Promise<string> {
    const listed =
      entry.resources === "dynamic" ? undefined : entry.resources.find((f) => f.uri === uri);
    if (entry.resources !== "dynamic" && !listed) {
      throw new SkillError("ERR_SKILL_UNLISTED", `${uri} is not a file of ${entry.uri}`, uri);
    }
    const result = await this.#client.readResource(uri, options);
    const content = result.contents.find((c) => typeof (c as { text?: unknown }).text === "string");
    const text = (content as { text?: string } | undefined)?.text;
    const failed = (why: string) =>
      new SkillError("ERR_SKILL_VERIFICATION", `${uri}: ${why}; not used`, uri);
    if (text === undefined) throw failed("no text content");
    if (!listed) return text;
    // The size first: a padded or cut read fails before any hashing.
    if (encoder.encode(text).length !== listed.size)
      throw failed("its size differs from the entry's");
    if (`sha256:${toHex(await digest(text))}` !== listed.digest) {
      throw failed("its digest differs from the entry's");
    }
    return text;
  }
}
