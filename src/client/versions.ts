import { SESSION_ERA_VERSIONS } from "../mcp/versions.ts";
import { ProtocolVersionError } from "./errors.ts";

/**
 * Revisions this client speaks, newest first. All open with `initialize` today; 2026-07-28
 * (stateless, `server/discover`) will join as a second era with its own opening.
 */
export const CLIENT_VERSIONS: readonly string[] = SESSION_ERA_VERSIONS;

/** Checks the server's answer to initialize: one of ours, or a clear ProtocolVersionError. */
export function acceptVersion(
  answer: unknown,
  supported: readonly string[] = CLIENT_VERSIONS,
): string {
  if (typeof answer === "string" && supported.includes(answer)) return answer;
  throw new ProtocolVersionError(supported, answer);
}
