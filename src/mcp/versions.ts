/** Protocol revisions of the 2025 era, which open with `initialize`; newest first. */
export const SESSION_ERA_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;

/** Revisions of the stateless era: every request carries its version in `_meta`. */
export const MODERN_VERSIONS = ["2026-07-28"] as const;

/** Every revision this version of Portcullis speaks, newest first. */
export const ALL_VERSIONS = [...MODERN_VERSIONS, ...SESSION_ERA_VERSIONS] as const;

export type SessionEraVersion = (typeof SESSION_ERA_VERSIONS)[number];
export type ModernVersion = (typeof MODERN_VERSIONS)[number];
export type ProtocolVersion = (typeof ALL_VERSIONS)[number];

export const LATEST_VERSION: ProtocolVersion = "2026-07-28";

/** What a request without an `MCP-Protocol-Version` header is assumed to speak. */
export const DEFAULT_HEADER_VERSION: SessionEraVersion = "2025-03-26";

export function isSupportedVersion(
  version: string,
  offered: readonly string[] = ALL_VERSIONS,
): version is ProtocolVersion {
  return offered.includes(version);
}

export function isModernVersion(version: string): version is ModernVersion {
  return (MODERN_VERSIONS as readonly string[]).includes(version);
}

/**
 * Version negotiation at initialize: answer with the client's version when we speak it,
 * else with our newest session-era one, and let the client decide whether to go on.
 */
export function negotiateVersion(
  requested: unknown,
  offered: readonly ProtocolVersion[] = ALL_VERSIONS,
): SessionEraVersion {
  const sessionEra = offered.filter((v): v is SessionEraVersion => !isModernVersion(v));
  const match = sessionEra.find((version) => version === requested);
  if (match) return match;
  return sessionEra[0] ?? SESSION_ERA_VERSIONS[0];
}

/** Feature gates that differ between revisions. */
export function supportsBatching(version: string): boolean {
  return version === "2025-03-26";
}

/** Whether `version` is `since` or a later revision (by release order, never by string). */
function atLeast(version: string, since: ProtocolVersion): boolean {
  const order = ALL_VERSIONS as readonly string[];
  const index = order.indexOf(version);
  return index !== -1 && index <= order.indexOf(since);
}

/** Tool definitions carry `execution` (taskSupport): 2025-11-25 alone. */
export function knowsToolExecution(version: string): boolean {
  return version === "2025-11-25";
}

/** Tasks as the 2025-11-25 `tasks` capability (2026-07-28 has them as an extension). */
export function hasLegacyTasks(version: string): boolean {
  return version === "2025-11-25";
}

/** SSE streams open with a priming event (an id and no data) the client may resume from. */
export function primesStreams(version: string): boolean {
  return atLeast(version, "2025-11-25");
}

/** Form elicitations name their `mode`. */
export function namesElicitationMode(version: string): boolean {
  return atLeast(version, "2025-11-25");
}
