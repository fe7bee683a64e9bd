import { isObject } from "../mcp/content.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import { META } from "../mcp/modern.ts";
import type { Implementation, JsonObject } from "../mcp/types.ts";
import type { Connection, RequestOptions } from "./connection.ts";
import { ProtocolError, ProtocolVersionError, TransportError } from "./errors.ts";
import {
  acceptVersion,
  CLIENT_VERSIONS,
  isModern,
  LEGACY_VERSIONS,
  MODERN_CLIENT_VERSIONS,
  newestShared,
} from "./versions.ts";

/** What the opening of a connection settled. */
export interface Negotiated {
  protocolVersion: string;
  serverInfo: Implementation;
  serverCapabilities: JsonObject;
  instructions?: string;
  /** Every revision the server said it supports (2026-07-28 servers, from server/discover). */
  supportedVersions?: string[];
}

/** The era a server was found to speak before: 2025 sessions or 2026-07-28. */
export type Era = "legacy" | "modern";

export interface HandshakeOptions {
  clientInfo: Implementation;
  /** Capabilities declared at initialize (2025 revisions). */
  capabilities: JsonObject;
  /** Capabilities declared in every request's `_meta` (2026-07-28). */
  modernCapabilities: JsonObject;
  /** "auto" (default) finds the server's era; a revision forces it. */
  protocolVersion?: string;
  /** What this server spoke last time: "legacy" goes straight to initialize. */
  remembered?: Era | undefined;
  /** A reply lacks what the spec requires: throws in strict mode, else reports it. */
  breach(message: string): void;
  request?: RequestOptions;
  /** The probe's time limit when `request.timeoutMs` is not given. */
  probeTimeoutMs: number;
}

/** Errors only a 2026-07-28 server sends: a server that sends one is modern. */
const MODERN_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.HeaderMismatch,
  ErrorCode.MissingRequiredClientCapability,
  ErrorCode.UnsupportedProtocolVersion,
]);

/** The `_meta` every 2026-07-28 request carries. */
export function modernMeta(
  version: string,
  clientInfo: Implementation,
  capabilities: JsonObject,
): JsonObject {
  return {
    [META.protocolVersion]: version,
    [META.clientInfo]: { ...clientInfo },
    [META.clientCapabilities]: capabilities,
  };
}

/**
 * Opens a connection at a revision both sides speak. By default it probes with
 * `server/discover` (2026-07-28): a DiscoverResult, or an UnsupportedProtocolVersionError
 * naming a version both speak, settles a modern server; anything else that shows the server
 * does not know the request (an HTTP 400, 404 or 405 without a modern error, a JSON-RPC error,
 * a reply that is no DiscoverResult, silence) falls back to `initialize` and the 2025
 * revisions. Network and authorization failures are not era signals: they are thrown.
 */
export async function handshake(
  connection: Connection,
  options: HandshakeOptions,
): Promise<Negotiated> {
  const wanted = options.protocolVersion ?? "auto";
  if (wanted !== "auto") {
    if (!isModern(wanted)) return initialize(connection, options, wanted);
    const probed = await probe(connection, options, wanted);
    if ("protocolVersion" in probed) return probed;
    throw new ProtocolVersionError(MODERN_CLIENT_VERSIONS, probed.supported, {
      message: `The server does not speak ${wanted}${probed.supported ? `; it supports ${probed.supported.join(", ")}` : ""}`,
      cause: probed.cause,
    });
  }
  if (options.remembered === "legacy") {
    try {
      return await initialize(connection, options, LEGACY_VERSIONS[0]!);
    } catch (error) {
      // The server may have moved on to 2026-07-28 since: ask it, and otherwise report the
      // failure of the revision it used to speak.
      if (!eraSignal(error)) throw error;
      connection.transport.reset?.();
      const probed = await probe(connection, options, MODERN_CLIENT_VERSIONS[0]!).catch(
        () => undefined,
      );
      if (probed && "protocolVersion" in probed) return probed;
      throw error;
    }
  }
  const probed = await probe(connection, options, MODERN_CLIENT_VERSIONS[0]!);
  if ("protocolVersion" in probed) return probed;
  connection.transport.reset?.();
  const offer = probed.supported
    ? newestShared(LEGACY_VERSIONS, probed.supported)
    : LEGACY_VERSIONS[0];
  if (offer === undefined) {
    throw new ProtocolVersionError(CLIENT_VERSIONS, probed.supported, {
      message: `The server supports ${probed.supported!.join(", ")}; this client speaks ${CLIENT_VERSIONS.join(", ")}`,
    });
  }
  return initialize(connection, options, offer);
}

/** A server that is not (or not only) modern: the versions it named, if any, and why. */
interface Legacy {
  supported?: readonly string[];
  cause?: unknown;
}

/**
 * Asks `server/discover` at `version`, following UnsupportedProtocolVersionErrors to another
 * modern version both sides speak. Resolves with what was settled, or with what shows the
 * server is not modern.
 */
async function probe(
  connection: Connection,
  options: HandshakeOptions,
  first: string,
): Promise<Negotiated | Legacy> {
  // Tries per version. A rejection that lists the very version it rejected (another instance
  // behind a balancer, a server mid-upgrade) earns that version one more try, and no more.
  const tried = new Map<string, number>();
  let version = first;
  for (;;) {
    tried.set(version, (tried.get(version) ?? 0) + 1);
    connection.transport.setProtocolVersion?.(version);
    let result: JsonObject;
    try {
      result = await discover(connection, options, version);
    } catch (error) {
      const supported = unsupportedVersions(error);
      if (supported) {
        const next = newestShared(MODERN_CLIENT_VERSIONS, supported);
        const again =
          next === undefined ? false : next === version ? tried.get(next) === 1 : !tried.has(next);
        if (next !== undefined && again) {
          version = next;
          continue;
        }
        return { supported, cause: error };
      }
      // A modern server refused the request itself: falling back would not be right.
      if (error instanceof McpError && MODERN_ERRORS.has(error.code)) throw error;
      if (!eraSignal(error)) throw error;
      return { cause: error };
    }
    if (!Array.isArray(result.supportedVersions)) {
      return {
        cause: new ProtocolError("ERR_CONTRACT", "The server/discover reply is no DiscoverResult"),
      };
    }
    const supported = result.supportedVersions.filter((v): v is string => typeof v === "string");
    // The server answered at `version`; a newer one both speak is better still.
    const best = newestShared(MODERN_CLIENT_VERSIONS, supported) ?? version;
    if (best !== version && !tried.has(best)) {
      version = best;
      continue;
    }
    return discovered(result, version, supported, options);
  }
}

function discover(
  connection: Connection,
  options: HandshakeOptions,
  version: string,
): Promise<JsonObject> {
  const request: RequestOptions = {
    ...options.request,
    timeoutMs: options.request?.timeoutMs ?? options.probeTimeoutMs,
  };
  return connection.request(
    "server/discover",
    { _meta: modernMeta(version, options.clientInfo, options.modernCapabilities) },
    request,
    { recover: false },
  );
}

/** The versions an UnsupportedProtocolVersionError lists, if `error` is one. */
function unsupportedVersions(error: unknown): string[] | undefined {
  if (!(error instanceof McpError) || error.code !== ErrorCode.UnsupportedProtocolVersion) {
    return undefined;
  }
  const data = error.data;
  if (!isObject(data) || !Array.isArray(data.supported)) return undefined;
  return data.supported.filter((v): v is string => typeof v === "string");
}

/**
 * Whether a failed opening request says something about the server's era (it did not
 * understand the request) rather than about the way there (network, credentials, abort).
 */
function eraSignal(error: unknown): boolean {
  if (error instanceof McpError || error instanceof ProtocolError) return true;
  if (!(error instanceof TransportError)) return false;
  switch (error.code) {
    case "ERR_HTTP_STATUS":
    case "ERR_BAD_CONTENT_TYPE":
    case "ERR_BAD_MESSAGE":
    case "ERR_STREAM_ENDED":
    case "ERR_TIMEOUT":
      return true;
    default:
      return false;
  }
}

function contract(options: HandshakeOptions, method: string) {
  return (field: string) => options.breach(`The ${method} result has no valid "${field}"`);
}

function discovered(
  result: JsonObject,
  version: string,
  supportedVersions: string[],
  options: HandshakeOptions,
): Negotiated {
  const missing = contract(options, "server/discover");
  if (!isObject(result.capabilities)) missing("capabilities");
  const meta = isObject(result._meta) ? result._meta : {};
  const info = meta[META.serverInfo];
  // serverInfo is only a SHOULD in 2026-07-28: its absence is no contract breach.
  const validInfo = isObject(info) && typeof info.name === "string";
  const negotiated: Negotiated = {
    protocolVersion: version,
    serverInfo: validInfo
      ? (info as unknown as Implementation)
      : { name: "unknown", version: "unknown" },
    serverCapabilities: isObject(result.capabilities) ? result.capabilities : {},
    supportedVersions,
  };
  if (typeof result.instructions === "string") negotiated.instructions = result.instructions;
  return negotiated;
}

/** The 2025 opening: initialize offering `offered`, then notifications/initialized. */
async function initialize(
  connection: Connection,
  options: HandshakeOptions,
  offered: string,
): Promise<Negotiated> {
  const result = await connection.request(
    "initialize",
    {
      protocolVersion: offered,
      capabilities: options.capabilities,
      clientInfo: options.clientInfo,
    },
    options.request,
    { recover: false },
  );
  const protocolVersion = acceptVersion(result.protocolVersion);
  const missing = contract(options, "initialize");
  const info = result.serverInfo;
  const validInfo = isObject(info) && typeof info.name === "string";
  if (!validInfo) missing("serverInfo");
  if (!isObject(result.capabilities)) missing("capabilities");
  const negotiated: Negotiated = {
    protocolVersion,
    serverInfo: validInfo
      ? (info as unknown as Implementation)
      : { name: "unknown", version: "unknown" },
    serverCapabilities: isObject(result.capabilities) ? result.capabilities : {},
  };
  if (typeof result.instructions === "string") negotiated.instructions = result.instructions;
  connection.transport.setProtocolVersion?.(negotiated.protocolVersion);
  await connection.notify("notifications/initialized");
  return negotiated;
}
