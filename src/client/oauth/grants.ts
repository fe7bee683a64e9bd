/**
 * The grants without a browser: refresh (RFC 6749 §6), client_credentials for a machine client,
 * and the JWT bearer grant (RFC 7523) for an assertion such as an enterprise ID-JAG.
 */
import * as oauth from "oauth4webapi";
import { withNonceRetry } from "./dpop.ts";
import type { AssertionContext } from "./options.ts";
import { type ClientCredentials, clientFor } from "./registration.ts";
import type { StoredTokens } from "./store.ts";
import { type GrantContext, tokenError, tokenRequestOptions } from "./token-endpoint.ts";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/**
 * Refreshes `tokens` and puts the new ones in use; false when they have no refresh token. A
 * refresh token the server refused is dropped, here and in the store.
 */
export async function refreshGrant(context: GrantContext, tokens: StoredTokens): Promise<boolean> {
  const { target, cache } = context;
  const refreshToken = tokens.refreshToken;
  if (!refreshToken) return false;
  const { client, auth } = await clientFor(context, undefined);
  let result: oauth.TokenEndpointResponse;
  try {
    result = await withNonceRetry(async () => {
      const response = await oauth.refreshTokenGrantRequest(
        target.as,
        client,
        auth,
        refreshToken,
        tokenRequestOptions(context, { resource: target.resource }),
      );
      return oauth.processRefreshTokenResponse(target.as, client, response);
    });
  } catch (error) {
    const failure = await tokenError(error, "The refresh token request");
    if (failure.oauthError !== undefined) await cache.dropRefreshToken(target, tokens);
    throw failure;
  }
  await cache.save(target, result, tokens.scope, "refresh", tokens);
  return true;
}

/** client_credentials with the pre-registered client's credentials. */
export function clientCredentialsGrant(
  context: GrantContext,
  scope: string | undefined,
): Promise<void> {
  const as = context.target.as;
  const none = async () => ({});
  return machineGrant(context, scope, "The client_credentials request", none, async (client) => {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client.client,
      client.auth,
      client.parameters,
      tokenRequestOptions(context),
    );
    return oauth.processClientCredentialsResponse(as, client.client, response);
  });
}

/** The JWT bearer grant, with the assertion the `assertion` option resolves for this request. */
export async function jwtBearerGrant(
  context: GrantContext,
  scope: string | undefined,
): Promise<void> {
  const { target, options } = context;
  const as = target.as;
  const assertionContext: AssertionContext = {
    issuer: target.issuer,
    resource: target.resource,
    tokenEndpoint: String(as.token_endpoint),
  };
  if (scope) assertionContext.scope = scope;
  const assertion = async () => ({ assertion: await options.assertion!(assertionContext) });
  return machineGrant(context, scope, "The JWT bearer grant request", assertion, async (client) => {
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client.client,
      client.auth,
      JWT_BEARER,
      client.parameters,
      tokenRequestOptions(context),
    );
    return oauth.processGenericTokenEndpointResponse(as, client.client, response);
  });
}

/**
 * A grant of a machine client: its pre-registered credentials, the parameters (the grant's
 * own, the resource, the scope), one token request, and what it issued put in use.
 */
async function machineGrant(
  context: GrantContext,
  scope: string | undefined,
  what: string,
  grantParameters: () => Promise<Record<string, string>>,
  request: (
    client: ClientCredentials & { parameters: Record<string, string> },
  ) => Promise<oauth.TokenEndpointResponse>,
): Promise<void> {
  const { target, cache } = context;
  const credentials = await clientFor(context, undefined);
  const parameters: Record<string, string> = {
    ...(await grantParameters()),
    resource: target.resource,
  };
  if (scope) parameters.scope = scope;
  try {
    const result = await withNonceRetry(() => request({ ...credentials, parameters }));
    await cache.save(target, result, scope, "grant");
  } catch (error) {
    throw await tokenError(error, what);
  }
}
