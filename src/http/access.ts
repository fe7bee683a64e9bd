import type { Context as HonoContext } from "hono";
import {
  type AccessDenied,
  type AccessRegistry,
  accessDenied,
  hiddenTargets,
} from "../mcp/access.ts";
import type { JsonRpcRequest, JsonRpcResponse } from "../mcp/jsonrpc.ts";
import type { Listed } from "../mcp/listing.ts";
import { requiresAuthorization } from "../mcp/reauthorize.ts";
import type { Guard } from "../resource/guard.ts";

/** The HTTP answer to a refusal of the access rules: 401 for a missing user, else 403. */
export function refusalResponse(c: HonoContext, guard: Guard, denied: AccessDenied): Response {
  return denied.reason === "insufficient_user_authentication"
    ? guard.userRequired(c)
    : guard.insufficientScope(c, denied.scopes, denied.description);
}

/**
 * On a protected endpoint, the access rules judged before anything in the POST runs, in both
 * eras: the requests of a batch together, so a batch is refused whole with one 403 or 401
 * (RFC 6750 `insufficient_scope`, RFC 9470 step-up) and nothing in it acted on. The same
 * rules run again as the first middleware of the server's pipeline, where every other
 * transport meets them. What a request's `canAccess` hides from the caller is left out here:
 * the pipeline answers it as not found, and a 403 naming its scopes would betray it.
 */
export function checkAccess(
  c: HonoContext,
  guard: Guard | undefined,
  registry: AccessRegistry,
  requests: readonly JsonRpcRequest[],
): Response | undefined | Promise<Response | undefined> {
  if (!guard) return undefined;
  const auth = guard.authenticate(c);
  const judge = (hidden: ReadonlySet<Listed>) => {
    const denied = accessDenied(registry, requests, auth, hidden);
    return denied ? refusalResponse(c, guard, denied) : undefined;
  };
  // Synchronous unless something the requests use has a `canAccess` check to await.
  const hidden = hiddenTargets(registry, requests, auth);
  return hidden instanceof Promise ? hidden.then(judge) : judge(hidden);
}

/**
 * On a protected endpoint, what replaces a reply made at once from one response: the 401
 * challenge when the handler said the caller must authorize again (`AuthorizationRequired`),
 * so that the client signs in again as it would for an expired token.
 */
export function reauthorization(
  c: HonoContext,
  guard: Guard | undefined,
): ((response: JsonRpcResponse) => Response | undefined) | undefined {
  if (!guard) return undefined;
  return (response) =>
    requiresAuthorization(response) && "error" in response
      ? guard.reauthorize(c, response.error.message)
      : undefined;
}
