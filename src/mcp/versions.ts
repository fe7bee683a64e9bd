/** Protocol revisions of the 2025 era, which open with `initialize`; newest first. */
export const SESSION_ERA_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;

export type ProtocolVersion = (typeof SESSION_ERA_VERSIONS)[number];

export const LATEST_VERSION: ProtocolVersion = "2025-11-25";

/** What a request without an `MCP-Protocol-Version` header is assumed to speak. */
export const DEFAULT_HEADER_VERSION: ProtocolVersion = "2025-03-26";

export function isSupportedVersion(
  version: string,
  offered: readonly string[] = SESSION_ERA_VERSIONS,
): version is ProtocolVersion {
  return offered.includes(version);
}

/**
 * Version negotiation at initialize: answer with the client's version when we speak it,
 * else with our newest, and let the client decide whether to go on.
 */
export function negotiateVersion(
  requested: unknown,
  offered: readonly ProtocolVersion[] = SESSION_ERA_VERSIONS,
): ProtocolVersion {
  if (typeof requested === "string" && isSupportedVersion(requested, offered)) return requested;
  return offered[0] ?? LATEST_VERSION;
}

/** Feature gates that differ between revisions. */
export function supportsBatching(version: string): boolean {
  return version === "2025-03-26";
}
