import type { Context as HonoContext } from "hono";
import { ErrorCode } from "../mcp/jsonrpc.ts";
import type { McpServer } from "../mcp/server.ts";
import { isSupportedVersion } from "../mcp/versions.ts";
import { badRequest, httpError } from "./errors.ts";
import type { Found, SessionKeeper } from "./session-keeper.ts";
import type { Session } from "./sessions.ts";
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

/**
 * The session a request names (Mcp-Session-Id) for its caller, or the error reply for a
 * missing, unknown or ended one. At once where the keeper answers at once (local sessions).
 */
export function findSession(
  parts: TransportParts,
  keeper: SessionKeeper,
  c: HonoContext,
): Session | Response | Promise<Session | Response> {
  const id = c.req.header("mcp-session-id");
  if (!id) return badRequest("the Mcp-Session-Id header is required");
  const found = keeper.find(id, principal(parts, c));
  return found instanceof Promise ? found.then(outcome) : outcome(found);
}

function outcome(found: Found): Session | Response {
  if (found !== undefined && found !== "ended") return found;
  const message =
    found === "ended" ? "Session ended; start a new one with initialize" : "Session not found";
  return httpError(404, ErrorCode.ConnectionClosed, message);
}
