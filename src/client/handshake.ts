import { isObject } from "../mcp/content.ts";
import type { Implementation, JsonObject } from "../mcp/types.ts";
import type { Connection, RequestOptions } from "./connection.ts";
import { type ClientWarning, ProtocolError } from "./errors.ts";
import { acceptVersion, CLIENT_VERSIONS } from "./versions.ts";

/** What the opening of a connection settled. */
export interface Negotiated {
  protocolVersion: string;
  serverInfo: Implementation;
  serverCapabilities: JsonObject;
  instructions?: string;
}

export interface HandshakeOptions {
  clientInfo: Implementation;
  capabilities: JsonObject;
  /** The revision to offer; the newest by default. */
  protocolVersion?: string;
  strictContract: boolean;
  warn(warning: ClientWarning): void;
  request?: RequestOptions;
}

/**
 * Opens a connection at a revision both sides speak. Today that is initialize, then
 * notifications/initialized. The 2026-07-28 era will probe with `server/discover` first and
 * fall back here when the server does not know it, so callers only ever see `Negotiated`.
 */
export async function handshake(
  connection: Connection,
  options: HandshakeOptions,
): Promise<Negotiated> {
  const negotiated = await initialize(connection, options);
  connection.transport.setProtocolVersion?.(negotiated.protocolVersion);
  await connection.notify("notifications/initialized");
  connection.transport.listen?.();
  return negotiated;
}

async function initialize(connection: Connection, options: HandshakeOptions): Promise<Negotiated> {
  const offered = options.protocolVersion ?? CLIENT_VERSIONS[0]!;
  const result = await connection.request(
    "initialize",
    {
      protocolVersion: offered,
      capabilities: options.capabilities,
      clientInfo: options.clientInfo,
    },
    options.request,
    false,
  );
  const protocolVersion = acceptVersion(result.protocolVersion);
  const missing = (field: string) => {
    const message = `The initialize result has no valid "${field}"`;
    if (options.strictContract) throw new ProtocolError("ERR_CONTRACT", message);
    options.warn({ code: "contract", message });
  };
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
  return negotiated;
}
