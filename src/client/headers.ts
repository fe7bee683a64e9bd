/**
 * The request metadata headers of 2026-07-28 Streamable HTTP: `Mcp-Method`, `Mcp-Name`, and
 * the `Mcp-Param-*` mirrors of tool arguments a tool's inputSchema marks with `x-mcp-header`.
 */
import { isObject, toBase64 } from "../mcp/content.ts";
import { META } from "../mcp/modern.ts";
import type { JsonObject } from "../mcp/types.ts";

/** An argument a tool wants mirrored into a `Mcp-Param-{name}` header. */
export interface HeaderParam {
  name: string;
  /** The chain of `properties` keys that leads to the argument. */
  path: readonly string[];
}

/** RFC 9110 field-name token: what `x-mcp-header` values must be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A value that can travel as is: visible ASCII, inner spaces and tabs, nothing at the edges. */
const PLAIN = /^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$/;
const PRIMITIVE = new Set(["string", "integer", "boolean"]);
/** Keywords whose values are data, not schemas: an `x-mcp-header` key inside them is not one. */
const DATA_KEYWORDS = new Set(["const", "default", "enum", "examples"]);
/** Keywords whose values map names to schemas. */
const SCHEMA_MAPS = new Set([
  "properties",
  "patternProperties",
  "$defs",
  "definitions",
  "dependentSchemas",
]);

/** Methods whose `Mcp-Name` header mirrors a body field, and which field. */
const NAME_FIELD: Record<string, string> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  // The tasks extension routes by task id.
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

/**
 * A header value for `text`: as is when it is plain visible ASCII, else (or when it could be
 * mistaken for one) the `=?base64?…?=` sentinel form of its UTF-8 bytes.
 */
export function encodeHeaderValue(text: string): string {
  const sentinel = text.startsWith("=?base64?") && text.endsWith("?=");
  return PLAIN.test(text) && !sentinel
    ? text
    : `=?base64?${toBase64(new TextEncoder().encode(text))}?=`;
}

/** The metadata headers of a 2026-07-28 request or notification, from its body. */
export function requestMetadataHeaders(
  method: string,
  params: JsonObject | undefined,
  fallbackVersion: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = { "mcp-method": method };
  const meta = isObject(params?._meta) ? params._meta : {};
  const version = meta[META.protocolVersion];
  // The header must equal the body's version; the transport's own is only a fallback.
  if (typeof version === "string") headers["mcp-protocol-version"] = version;
  else if (fallbackVersion !== undefined) headers["mcp-protocol-version"] = fallbackVersion;
  const field = Object.hasOwn(NAME_FIELD, method) ? NAME_FIELD[method] : undefined;
  const name = field === undefined ? undefined : params?.[field];
  if (typeof name === "string") headers["mcp-name"] = encodeHeaderValue(name);
  return headers;
}

/** Whether a property schema's type is one `x-mcp-header` may sit on (nullable allowed). */
function primitiveType(type: unknown): boolean {
  if (typeof type === "string") return PRIMITIVE.has(type);
  if (!Array.isArray(type)) return false;
  const kinds = type.filter((kind) => kind !== "null");
  return kinds.length === 1 && PRIMITIVE.has(kinds[0] as string);
}

/**
 * The `x-mcp-header` arguments of a tool's inputSchema, or why the definition is invalid: a
 * value that is not a token, a duplicate, a non-primitive type, or an annotation anywhere but
 * on a property reachable from the root through `properties` alone.
 */
export function toolHeaderParams(
  inputSchema: unknown,
): { ok: true; params: HeaderParam[] } | { ok: false; reason: string } {
  const params: HeaderParam[] = [];
  const seen = new Set<string>();
  let reason: string | undefined;
  // `chain` is the properties path of a schema reachable through `properties` alone, else undefined.
  const visit = (node: unknown, chain: string[] | undefined, where: string): void => {
    if (reason !== undefined) return;
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) visit(item, undefined, `${where}/${index}`);
      return;
    }
    if (!isObject(node)) return;
    if ("x-mcp-header" in node) {
      const header = node["x-mcp-header"];
      if (chain === undefined || chain.length === 0) {
        reason = `x-mcp-header at ${where || "the root"} is not on a property reachable through "properties" alone`;
        return;
      }
      if (typeof header !== "string" || !TOKEN.test(header)) {
        reason = `x-mcp-header at ${where} is not an HTTP token`;
        return;
      }
      if (!primitiveType(node.type)) {
        reason = `x-mcp-header at ${where} is on a property that is not a string, integer or boolean`;
        return;
      }
      if (seen.has(header.toLowerCase())) {
        reason = `x-mcp-header "${header}" is used more than once`;
        return;
      }
      seen.add(header.toLowerCase());
      params.push({ name: header, path: chain });
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === "x-mcp-header" || DATA_KEYWORDS.has(key)) continue;
      if (SCHEMA_MAPS.has(key) && isObject(value)) {
        for (const [name, child] of Object.entries(value)) {
          const next = key === "properties" && chain !== undefined ? [...chain, name] : undefined;
          visit(child, next, `${where}/${key}/${name}`);
        }
      } else {
        visit(value, undefined, `${where}/${key}`);
      }
    }
  };
  visit(inputSchema, [], "");
  return reason === undefined ? { ok: true, params } : { ok: false, reason };
}

/** The `Mcp-Param-*` headers of a call: each annotated argument present, encoded. */
export function paramHeaders(
  params: readonly HeaderParam[],
  args: JsonObject,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const param of params) {
    let value: unknown = args;
    for (const key of param.path) {
      value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    }
    let text: string | undefined;
    if (typeof value === "string") text = value;
    else if (typeof value === "boolean") text = String(value);
    else if (typeof value === "number" && Number.isFinite(value)) text = String(value);
    // Absent, null or not a primitive: the header is omitted, and the server expects none.
    if (text !== undefined) headers[`mcp-param-${param.name}`] = encodeHeaderValue(text);
  }
  return headers;
}
