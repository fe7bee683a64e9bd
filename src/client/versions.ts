import { MODERN_VERSIONS, SESSION_ERA_VERSIONS } from "../mcp/versions.ts";
import { ProtocolVersionError } from "./errors.ts";

/** Revisions this client speaks that open with `initialize` (2025 sessions), newest first. */
export const LEGACY_VERSIONS: readonly string[] = SESSION_ERA_VERSIONS;

/** Revisions this client speaks that carry their version on every request, newest first. */
export const MODERN_CLIENT_VERSIONS: readonly string[] = MODERN_VERSIONS;

/** Every revision this client speaks, newest first. */
export const CLIENT_VERSIONS: readonly string[] = [...MODERN_CLIENT_VERSIONS, ...LEGACY_VERSIONS];

/** Whether a revision is of the stateless era (2026-07-28 and later). */
export function isModern(version: string): boolean {
  return MODERN_CLIENT_VERSIONS.includes(version);
}

/** Checks the server's answer to initialize: one of ours, or a clear ProtocolVersionError. */
export function acceptVersion(
  answer: unknown,
  supported: readonly string[] = LEGACY_VERSIONS,
): string {
  if (typeof answer === "string" && supported.includes(answer)) return answer;
  throw new ProtocolVersionError(supported, answer);
}

/** The newest of `ours` the server also lists, if any. */
export function newestShared(
  ours: readonly string[],
  theirs: readonly unknown[],
): string | undefined {
  return ours.find((version) => theirs.includes(version));
}
