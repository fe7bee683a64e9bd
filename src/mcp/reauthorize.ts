import { ErrorCode, type JsonRpcResponse, McpError } from "./jsonrpc.ts";
import type { UpstreamAccess } from "./peer.ts";

/**
 * The caller must authorize again: the grant behind its token can no longer do what the
 * request needs (the upstream provider refused to refresh the user's tokens, or they are
 * gone). Over HTTP the request is answered with the endpoint's 401 `invalid_token` challenge
 * when its reply has not started yet; otherwise with this JSON-RPC error (-32030), and the
 * client's next request meets the 401.
 */
export class AuthorizationRequired extends McpError {
  constructor(message: string) {
    super(ErrorCode.AuthorizationRequired, message);
    this.name = "AuthorizationRequired";
  }
}

/** Whether a response is an {@link AuthorizationRequired} error. */
export function requiresAuthorization(response: JsonRpcResponse): boolean {
  return "error" in response && response.error.code === ErrorCode.AuthorizationRequired;
}

/** What `ctx.upstream` is when the server keeps no upstream tokens for the caller. */
export const NO_UPSTREAM: UpstreamAccess = {
  token: () =>
    Promise.reject(
      new McpError(
        ErrorCode.InvalidRequest,
        "No upstream tokens for this caller: the server does not keep them, or no user signed in",
      ),
    ),
};
