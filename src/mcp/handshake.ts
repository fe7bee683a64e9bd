import { isObject } from "./content.ts";
import { type Extensions, offerFor } from "./extension.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import type { Listing } from "./listing.ts";
import type { McpServerOptions } from "./options.ts";
import type { AuthInfo, Peer } from "./peer.ts";
import type { RegisteredPrompt } from "./prompts.ts";
import type { RegisteredResource } from "./resources.ts";
import type { RegisteredTool } from "./tools.ts";
import type { Implementation, JsonObject } from "./types.ts";
import { isModernVersion, negotiateVersion, type ProtocolVersion } from "./versions.ts";

/** The server's identity, from its options. */
export function implementationOf(options: McpServerOptions): Implementation {
  const info: Implementation = { name: options.name, version: options.version };
  for (const key of ["title", "description", "icons", "websiteUrl"] as const) {
    if (options[key] !== undefined) Object.assign(info, { [key]: options[key] });
  }
  return info;
}

/** What the handshake results read from the server. */
export interface OfferHost {
  readonly info: Implementation;
  readonly instructions: string | undefined;
  readonly protocolVersions: readonly ProtocolVersion[];
  readonly tools: Listing<RegisteredTool>;
  readonly resources: Listing<RegisteredResource>;
  readonly templates: Listing<RegisteredResource>;
  readonly prompts: Listing<RegisteredPrompt>;
  readonly extensions: Extensions;
}

/**
 * What a server offers, from what is registered, for the revision in `version` (default:
 * 2025-11-25); each extension declares itself as that revision knows it (tasks: the
 * 2025-11-25 `tasks` capability, tasks/list only to authenticated callers).
 */
export function offeredCapabilities(
  host: OfferHost,
  context: { version?: string; authenticated?: boolean } = {},
): JsonObject {
  const capabilities: JsonObject = { logging: {} };
  let completions = false;
  if (host.tools.size) capabilities.tools = { listChanged: true };
  if (host.resources.size || host.templates.size) {
    capabilities.resources = { subscribe: true, listChanged: true };
    for (const template of host.templates.values()) completions ||= !!template.config.complete;
  }
  if (host.prompts.size) {
    capabilities.prompts = { listChanged: true };
    for (const prompt of host.prompts.values()) completions ||= !!prompt.config.complete;
  }
  if (completions) capabilities.completions = {};
  const version = context.version ?? "2025-11-25";
  host.extensions.declare(capabilities, offerFor(version, context.authenticated ?? false));
  return capabilities;
}

/** The initialize result (2025 revisions); records the client on its peer. */
export function initializeResult(
  host: OfferHost,
  params: JsonObject,
  peer: Peer,
  auth?: AuthInfo,
): JsonObject {
  const offered = host.protocolVersions;
  if (offered.every(isModernVersion)) {
    // A server that offers only stateless revisions names them: a 2025 client has no other
    // way to learn why it cannot connect.
    throw new McpError(
      ErrorCode.UnsupportedProtocolVersion,
      `This server speaks only ${offered.join(", ")}; initialize is not part of it`,
      { supported: [...offered], requested: params.protocolVersion },
    );
  }
  const version = negotiateVersion(params.protocolVersion, offered);
  peer.protocolVersion = version;
  peer.clientCapabilities = isObject(params.capabilities) ? params.capabilities : {};
  if (isObject(params.clientInfo)) peer.clientInfo = params.clientInfo as unknown as Implementation;
  const result: JsonObject = {
    protocolVersion: version,
    capabilities: offeredCapabilities(host, {
      version,
      authenticated: auth?.subject !== undefined,
    }),
    serverInfo: host.info,
  };
  if (host.instructions !== undefined) result.instructions = host.instructions;
  return result;
}

/** The server/discover result (2026-07-28). */
export function discoverResult(host: OfferHost): JsonObject {
  const result: JsonObject = {
    supportedVersions: [...host.protocolVersions],
    capabilities: offeredCapabilities(host, { version: "2026-07-28" }),
  };
  if (host.instructions !== undefined) result.instructions = host.instructions;
  return result;
}
