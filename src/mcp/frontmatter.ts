/**
 * The YAML frontmatter of a SKILL.md, read into JSON: the subset Agent Skills frontmatter
 * uses — block mappings nested by indentation, `- item` sequences, plain, single- and
 * double-quoted scalars, and the core schema's null, booleans and numbers. Anything else
 * (flow collections, anchors, tags, block scalars) is refused rather than guessed at, so the
 * two sides of a comparison never read the same text differently without saying so.
 */
import type { JsonObject } from "./types.ts";

type JsonValue = unknown;

/** A frontmatter this reader cannot take: missing, malformed, or outside the subset. */
export class FrontmatterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrontmatterError";
  }
}

const OPENING = /^\uFEFF?---[ \t]*\r?\n/;

/** The frontmatter of a markdown document, as a JSON object; throws FrontmatterError. */
export function parseFrontmatter(text: string): JsonObject {
  const opening = OPENING.exec(text);
  if (!opening) throw new FrontmatterError("The document does not begin with ---");
  const lines = text.slice(opening[0].length).split(/\r?\n/);
  const end = lines.findIndex((line) => /^---[ \t]*$/.test(line));
  if (end < 0) throw new FrontmatterError("The frontmatter has no closing ---");
  const body = lines
    .slice(0, end)
    .map((line, index) => ({ line: index + 2, text: withoutComment(line) }))
    .filter((entry) => entry.text.trim() !== "" && !entry.text.trimStart().startsWith("#"));
  const reader = { rows: body, at: 0 };
  const value = block(reader, 0);
  if (reader.at < body.length) fail(body[reader.at]!.line, "unexpected indentation");
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FrontmatterError("The frontmatter is not a mapping");
  }
  return value as JsonObject;
}

/** The line without a trailing `# comment`; a `#` inside quotes is content. */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quote) {
      if (char === quote) quote = undefined;
    } else if ((char === '"' || char === "'") && /(^|[:-])$/.test(line.slice(0, i).trimEnd())) {
      // Quotes open a scalar only where one starts; an apostrophe in plain text is text.
      quote = char;
    } else if (char === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i).trimEnd();
    }
  }
  return line;
}

interface Reader {
  rows: { line: number; text: string }[];
  at: number;
}

function fail(line: number, why: string): never {
  throw new FrontmatterError(`Frontmatter line ${line}: ${why}`);
}

const indentOf = (text: string) => text.length - text.trimStart().length;

/** A mapping or sequence whose entries sit at exactly `indent`. */
function block(reader: Reader, indent: number): JsonValue {
  const first = reader.rows[reader.at];
  if (!first) return null;
  if (first.text.trimStart().startsWith("- ") || first.text.trim() === "-") {
    return sequence(reader, indentOf(first.text));
  }
  if (indentOf(first.text) < indent) return null;
  return mapping(reader, indentOf(first.text));
}

function mapping(reader: Reader, indent: number): JsonObject {
  const result: JsonObject = {};
  for (let row = reader.rows[reader.at]; row; row = reader.rows[reader.at]) {
    const own = indentOf(row.text);
    if (own < indent) break;
    if (own > indent) fail(row.line, "unexpected indentation");
    if (row.text.includes("\t")) fail(row.line, "tabs are not indentation");
    const match = /^([^\s'"#:][^:]*?|"[^"]*"|'[^']*'):(?:\s+(.*))?$/.exec(row.text.trimStart());
    if (!match) fail(row.line, "expected key: value");
    const key = String(scalar(match[1]!, row.line));
    if (Object.hasOwn(result, key)) fail(row.line, `duplicate key ${key}`);
    reader.at++;
    const rest = match[2]?.trim() ?? "";
    // A key named __proto__ stays a key: defineProperty, not assignment.
    const value = rest === "" ? nested(reader, indent) : scalar(rest, row.line);
    Object.defineProperty(result, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}

/** The block under a key with no inline value: deeper lines, or a sequence at the same indent. */
function nested(reader: Reader, indent: number): JsonValue {
  const next = reader.rows[reader.at];
  if (!next) return null;
  const own = indentOf(next.text);
  const item = next.text.trimStart().startsWith("-");
  if (own > indent || (own === indent && item)) return block(reader, own);
  return null;
}

function sequence(reader: Reader, indent: number): JsonValue[] {
  const items: JsonValue[] = [];
  for (let row = reader.rows[reader.at]; row; row = reader.rows[reader.at]) {
    const own = indentOf(row.text);
    const text = row.text.trimStart();
    if (own !== indent || !(text.startsWith("- ") || text === "-")) break;
    reader.at++;
    const rest = text.slice(1).trim();
    if (rest === "") items.push(nested(reader, indent));
    else if (/^[^\s'"][^:]*:(\s|$)/.test(rest))
      fail(row.line, "mappings inside sequences are not supported");
    else items.push(scalar(rest, row.line));
  }
  return items;
}

/** One scalar, by the YAML 1.2 core schema. */
function scalar(text: string, line: number): JsonValue {
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) fail(line, "unterminated string");
    try {
      return JSON.parse(text) as string;
    } catch {
      return fail(line, "unsupported escape in a double-quoted string");
    }
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) fail(line, "unterminated string");
    return text.slice(1, -1).replaceAll("''", "'");
  }
  if (/^[[{&*!|>%@`]/.test(text)) fail(line, `unsupported YAML: ${text.slice(0, 20)}`);
  if (/^(null|Null|NULL|~)$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?(0|[1-9][0-9]*)$/.test(text)) return Number(text);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  return text;
}
