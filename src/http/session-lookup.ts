import type { Context as HonoContext } from "hono";
import { ErrorCode } from "../mcp/jsonrpc.ts";
import type { McpServer } from "../mcp/server.ts";
import { isSupportedVersion } from "../mcp/versions.ts";
import { badRequest, httpError } from "./errors.ts";
import { Session } from "./sessions.ts";
import { principal, type TransportParts } from "./transport-parts.ts";

/**
 * The 400 for an MCP-Protocol-Version header the server does not speak. The rule holds for
 * every request after initialize, GET and DELETE included, not only for POSTed messages.
 */
export function unsupportedVersion(
  server: McpServer,
  headerVersion: string | null,
): Response | undefined {
  if (headerVersion === null || isSupportedVersion(headerVersion, server.protocolVersions)) {
    return undefined;
  }
  return badRequest(
    `Unsupported protocol version ${headerVersion}; supported: ${server.protocolVersions.join(", ")}`,
  );
}

/** findLocalSession for sessions in a shared Store: this instance's copy, or the Store's record. */
export async function findSharedSession(
  parts: TransportParts,
  c: HonoContext,
): Promise<Session | Response> {
  const id = c.req.header("mcp-session-id");
  if (!id) return badRequest("the Mcp-Session-Id header is required");
  const found = await parts.shared!.find(id, principal(parts, c));
  if (found instanceof Session) return found;
  const message =
    found === "ended" || parts.sessions!.wasEnded(id)
      ? "Session ended; start a new one with initialize"
      : "Session not found";
  return httpError(404, ErrorCode.ConnectionClosed, message);
}

/** Looks up the session a request names, or the error reply for a missing or unknown one. */
export function findLocalSession(parts: TransportParts, c: HonoContext): Session | Response {
  const id = c.req.header("mcp-session-id");
  if (!id) return badRequest("the Mcp-Session-Id header is required");
  // Another caller's session answers exactly as an unknown one, and is not marked used.
  const owned = parts.sessions!.peek(id)?.principal === principal(parts, c);
  const session = owned ? parts.sessions!.get(id) : undefined;
  if (session) return session;
  const message =
    !parts.sessions!.peek(id) && parts.sessions!.wasEnded(id)
      ? "Session ended; start a new one with initialize"
      : "Session not found";
  return httpError(404, ErrorCode.ConnectionClosed, message);
}
