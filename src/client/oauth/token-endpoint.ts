/** What every grant shares: the context it runs in, the token request options, its errors. */
import * as oauth from "oauth4webapi";
import { AuthorizationError, findAuthorizationError } from "./errors.ts";
import { guardedFetch } from "./fetch.ts";
import type { ClientSource } from "./registration.ts";
import type { TokenCache } from "./token-cache.ts";

/** What a grant runs with: where tokens come from, and where what it obtains is kept. */
export interface GrantContext extends ClientSource {
  cache: TokenCache;
  /** With DPoP on: puts a proof on each token request, and keeps the server's nonce. */
  dpop?: oauth.DPoPHandle | undefined;
}

/** oauth4webapi's request options: our guarded fetch, and a resource indicator. */
export function tokenRequestOptions(
  context: GrantContext,
  extra?: Record<string, string>,
): oauth.TokenEndpointRequestOptions {
  const policy = context.policy;
  // One function for every request shape oauth4webapi makes (form bodies and JSON ones).
  const fetcher = (
    url: string,
    init: oauth.CustomFetchOptions<string, URLSearchParams | string | undefined>,
  ) => guardedFetch(policy, url, init as RequestInit);
  const options: oauth.TokenEndpointRequestOptions = {
    [oauth.customFetch]: fetcher,
    // The guarded fetch itself allows http only to loopback, and only when told to.
    [oauth.allowInsecureRequests]: policy.allowLoopback,
  };
  if (extra) options.additionalParameters = extra;
  if (context.dpop) options.DPoP = context.dpop;
  return options;
}

/**
 * The AuthorizationError for a failed token request: ours when our fetch threw one, else
 * ERR_TOKEN_REQUEST_FAILED with the RFC 6749 error the server sent (body or challenge).
 */
export async function tokenError(error: unknown, what: string): Promise<AuthorizationError> {
  const inner = findAuthorizationError(error);
  if (inner) return inner;
  let code: string | undefined;
  let description: string | undefined;
  if (error instanceof oauth.ResponseBodyError) {
    code = error.error;
    description = error.error_description;
  } else if (error instanceof oauth.WWWAuthenticateChallengeError) {
    // A 401 with a challenge: the RFC 6749 error is in the body (or the challenge).
    const body: unknown = await error.response.json().catch(() => undefined);
    const fromBody = body && typeof body === "object" ? (body as Record<string, unknown>) : {};
    const fromChallenge = error.cause[0]?.parameters ?? {};
    const found = fromBody.error ?? fromChallenge.error;
    code = typeof found === "string" ? found : undefined;
    const said = fromBody.error_description ?? fromChallenge.error_description;
    description = typeof said === "string" ? said : undefined;
  }
  if (code !== undefined) {
    return new AuthorizationError(
      "ERR_TOKEN_REQUEST_FAILED",
      `${what} was refused: ${code}${description ? ` (${description})` : ""}`,
      { oauthError: code, cause: error },
    );
  }
  return new AuthorizationError(
    "ERR_TOKEN_REQUEST_FAILED",
    `${what} failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
