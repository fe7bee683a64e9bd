import type { Context as HonoContext } from "hono";
import type { AuthInfo } from "../mcp/peer.ts";

/** What a protected endpoint's transport needs from the resource server. */
export interface Guard {
  /** The verified caller of this request. */
  authenticate(c: HonoContext): AuthInfo | undefined;
  /** The 403 reply for a caller whose token lacks scopes a request needs. */
  insufficientScope(c: HonoContext, scopes: readonly string[], description: string): Response;
  /** The 401 reply (RFC 9470) for a client alone asking for what needs a user behind it. */
  userRequired(c: HonoContext): Response;
  /** The 401 `invalid_token` reply for a caller that must authorize again (its grant ended). */
  reauthorize(c: HonoContext, description: string): Response;
}
