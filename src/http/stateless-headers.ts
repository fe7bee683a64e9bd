import type { Context as HonoContext } from "hono";
import { isObject } from "../mcp/content.ts";
import { ErrorCode, type JsonRpcRequest, McpError } from "../mcp/jsonrpc.ts";
import { META } from "../mcp/modern.ts";
import type { McpServer } from "../mcp/server.ts";
import type { JsonObject } from "../mcp/types.ts";

/**
 * The body field each method's Mcp-Name header mirrors: the name or URI of what the request
 * is about (streamable-http.mdx, "Standard Headers"), and the task id of the tasks extension's
 * methods (ext-tasks, "Routing Headers"). One lookup per request decides whether it has one.
 */
const NAMED_BY: ReadonlyMap<string, "name" | "uri" | "taskId"> = new Map([
  ["tools/call", "name"],
  ["prompts/get", "name"],
  ["resources/read", "uri"],
  ["tasks/get", "taskId"],
  ["tasks/update", "taskId"],
  ["tasks/cancel", "taskId"],
]);

function mismatch(message: string): McpError {
  return new McpError(ErrorCode.HeaderMismatch, `Header mismatch: ${message}`);
}

/** What a plain header value may hold: visible ASCII, space and tab; the rest travels base64. */
const PLAIN = /^[\t -~]*$/;

/**
 * Base64 as RFC 4648 §4 defines it: the standard alphabet, padded to whole quanta. `atob`
 * alone is more forgiving (missing padding, whitespace), and a value it would repair is not
 * what the client was required to send.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes the `=?base64?…?=` sentinel form of a header value; undefined for an invalid one. */
function headerValue(raw: string): string | undefined {
  if (!PLAIN.test(raw)) return undefined;
  if (!raw.startsWith("=?base64?") || !raw.endsWith("?=")) return raw;
  const encoded = raw.slice(9, -2);
  if (!BASE64.test(encoded)) return undefined;
  try {
    const binary = atob(encoded);
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (ch) => ch.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

/** The argument at a path; only own properties count, so nothing is read off a prototype. */
function valueAt(args: unknown, path: readonly string[]): unknown {
  let node = args;
  for (const key of path) node = isObject(node) && Object.hasOwn(node, key) ? node[key] : undefined;
  return node;
}

/** A number in decimal notation; `Number()` alone would also take "0x2A", "0b1" or "Infinity". */
const DECIMAL = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

function sameValue(header: string, value: unknown): boolean {
  if (typeof value === "string") return header === value;
  if (typeof value === "boolean") return header === String(value);
  if (typeof value === "number") return DECIMAL.test(header) && Number(header) === value;
  return false;
}

/**
 * Header rules of 2026-07-28: every mirrored value present and equal to the body's. Throws
 * an McpError (-32001 header mismatch) naming the first that is not.
 */
export function checkHeaders(
  c: HonoContext,
  version: string | null,
  request: JsonRpcRequest,
  meta: JsonObject,
  server: McpServer,
): void {
  const params = request.params ?? {};
  if (version === null) throw mismatch("the MCP-Protocol-Version header is required");
  if (version !== meta[META.protocolVersion]) {
    throw mismatch(
      `MCP-Protocol-Version ${version} does not match _meta ${String(meta[META.protocolVersion])}`,
    );
  }
  const method = c.req.header("mcp-method");
  if (method === undefined) throw mismatch("the Mcp-Method header is required");
  if (method !== request.method)
    throw mismatch(`Mcp-Method ${method} does not match the body's ${request.method}`);
  const field = NAMED_BY.get(request.method);
  if (field === undefined) return;
  const raw = c.req.header("mcp-name");
  if (raw === undefined) throw mismatch("the Mcp-Name header is required");
  const name = headerValue(raw);
  if (name === undefined || name !== params[field])
    throw mismatch(`Mcp-Name does not match the body's ${field}`);
  if (request.method === "tools/call") {
    // The tool's name equals the header's value, so it is a string here.
    for (const param of server.tools.get(name)?.headerParams ?? []) {
      const value = valueAt(params.arguments, param.path);
      const sent = c.req.header(`mcp-param-${param.name}`);
      // A recognized header with characters it may not carry is refused even when its
      // argument is absent (streamable-http.mdx, "Server Behavior for Custom Headers").
      const decoded = sent === undefined ? undefined : headerValue(sent);
      if (sent !== undefined && decoded === undefined) {
        throw mismatch(`Mcp-Param-${param.name} is not a valid header value`);
      }
      if (value === undefined || value === null) continue;
      if (decoded === undefined) throw mismatch(`the Mcp-Param-${param.name} header is required`);
      if (!sameValue(decoded, value)) {
        throw mismatch(`Mcp-Param-${param.name} does not match the argument`);
      }
    }
  }
}
