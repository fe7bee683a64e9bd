import { isObject } from "./content.ts";
import type { Dressing } from "./era/era.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import type { CacheHints } from "./options.ts";
import { Peer } from "./peer.ts";
import {
  type Implementation,
  type JsonObject,
  LOGGING_LEVELS,
  type LoggingLevel,
} from "./types.ts";
import { isModernVersion } from "./versions.ts";

/** The `_meta` keys of the 2026-07-28 revision. */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;

/** Methods whose results clients may cache (CacheableResult). */
export const CACHEABLE = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "server/discover",
]);

/** Methods that may answer with an InputRequiredResult. */
export const INPUT_CAPABLE = new Set(["tools/call", "resources/read", "prompts/get"]);

/** The version a message declares in its `_meta`, which marks it as a 2026-07-28 request. */
export function declaredVersion(params: JsonObject | undefined): string | undefined {
  const meta = params?._meta;
  if (!isObject(meta)) return undefined;
  const version = meta[META.protocolVersion];
  return typeof version === "string" ? version : undefined;
}

/**
 * Refuses a 2026-07-28 request whose `_meta` lacks a required field (protocol version, client
 * capabilities): such a request is malformed, -32602 (basic/index.mdx, "_meta"). Returns the
 * `_meta` it checked.
 */
export function checkRequestMeta(params: JsonObject | undefined): JsonObject {
  const meta = params?._meta;
  const missing = !isObject(meta)
    ? "_meta"
    : typeof meta[META.protocolVersion] !== "string"
      ? META.protocolVersion
      : !isObject(meta[META.clientCapabilities])
        ? META.clientCapabilities
        : undefined;
  if (missing !== undefined) {
    throw new McpError(ErrorCode.InvalidParams, `Invalid params: the request lacks ${missing}`);
  }
  return meta as JsonObject;
}

/**
 * The per-request peer of a 2026-07-28 request, read from its `_meta`: version, client
 * identity and capabilities, and the log level it opted into (none: no log messages).
 */
export function modernPeer(params: JsonObject | undefined, supported: readonly string[]): Peer {
  return peerFromMeta(checkRequestMeta(params), supported);
}

/** The peer of a `_meta` that `checkRequestMeta` accepted. */
export function peerFromMeta(meta: JsonObject, supported: readonly string[]): Peer {
  const version = meta[META.protocolVersion];
  if (typeof version !== "string" || !isModernVersion(version) || !supported.includes(version)) {
    throw new McpError(ErrorCode.UnsupportedProtocolVersion, "Unsupported protocol version", {
      supported,
      requested: version,
    });
  }
  const peer = new Peer(version);
  const capabilities = meta[META.clientCapabilities];
  peer.clientCapabilities = isObject(capabilities) ? capabilities : {};
  const info = meta[META.clientInfo];
  if (isObject(info)) peer.clientInfo = info as unknown as Implementation;
  const level = meta[META.logLevel];
  if (level !== undefined) {
    // An unrecognized level is refused rather than taken as "no logs" (logging.mdx).
    if (typeof level !== "string" || !(LOGGING_LEVELS as readonly string[]).includes(level)) {
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: unknown log level in _meta");
    }
    peer.logLevel = level as LoggingLevel;
  }
  peer.initialized = true;
  return peer;
}

/** The HTTP status a 2026-07-28 error response travels with. */
export function modernErrorStatus(code: number): 200 | 400 | 404 {
  switch (code) {
    case ErrorCode.MethodNotFound:
      return 404;
    case ErrorCode.HeaderMismatch:
    case ErrorCode.UnsupportedProtocolVersion:
    case ErrorCode.MissingRequiredClientCapability:
    case ErrorCode.InvalidRequest:
    case ErrorCode.ParseError:
      return 400;
    default:
      return 200;
  }
}

/**
 * What the 2026-07-28 era adds to results: the server's identity, and cache hints (a
 * resource's own for resources/read, else the server's).
 */
export function dressing(
  serverInfo: Implementation,
  cache: CacheHints,
  resourceCache: (uri: string) => CacheHints | undefined,
): Dressing {
  return {
    serverInfo,
    cacheHint: (method, params) => {
      const own =
        method === "resources/read" && typeof params.uri === "string"
          ? resourceCache(params.uri)
          : undefined;
      return { ttlMs: own?.ttlMs ?? cache.ttlMs, scope: own?.scope ?? cache.scope };
    },
  };
}
