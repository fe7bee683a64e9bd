/**
 * The authorization code grant with PKCE (S256), `state`, the `resource` indicator and RFC 9207
 * `iss`: a person signs in and consents through the redirect handler.
 */
import * as oauth from "oauth4webapi";
import { isLoopbackHost } from "../../util/loopback.ts";
import type { Target } from "./discovery.ts";
import { withNonceRetry } from "./dpop.ts";
import { AuthorizationError } from "./errors.ts";
import { checkTarget } from "./fetch.ts";
import { clientFor } from "./registration.ts";
import { type GrantContext, tokenError, tokenRequestOptions } from "./token-endpoint.ts";

/**
 * Sends a person to the authorization server for `scopes` (with `offline_access` when the
 * server lists it, for a refresh token), checks the redirect back, exchanges the code, and
 * puts the tokens in use.
 */
export async function authorizationCodeGrant(
  context: GrantContext,
  scopes: Set<string>,
): Promise<void> {
  const { target, options } = context;
  const redirect = options.redirect;
  if (!redirect) {
    throw new AuthorizationError(
      "ERR_NO_REDIRECT",
      `${target.serverUrl.href} needs a person to sign in at ${target.issuer}, but the authorizer has no redirect handler`,
    );
  }
  const as = target.as;
  if (!as.code_challenge_methods_supported?.includes("S256")) {
    throw new AuthorizationError(
      "ERR_PKCE_UNSUPPORTED",
      `${target.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported), so it cannot be used safely`,
    );
  }
  if (typeof as.authorization_endpoint !== "string") {
    throw new AuthorizationError(
      "ERR_BAD_METADATA",
      `${target.issuer} publishes no authorization_endpoint`,
    );
  }
  const authorizationUrl = new URL(as.authorization_endpoint);
  // The browser, not the authorizer, opens this URL; it is held to the same rules anyway
  // so that no server can send a person to a javascript:, file: or intranet address.
  await checkTarget(authorizationUrl, context.policy);
  const session = await redirect.start();
  try {
    const { client, auth } = await clientFor(context, session.redirectUri);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const params = authorizationUrl.searchParams;
    params.set("response_type", "code");
    params.set("client_id", client.client_id);
    params.set("redirect_uri", session.redirectUri);
    params.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    params.set("code_challenge_method", "S256");
    params.set("state", state);
    const asked = [...scopes];
    if (
      asked.length > 0 &&
      options.offlineAccess !== false &&
      as.scopes_supported?.includes("offline_access") &&
      !asked.includes("offline_access")
    ) {
      asked.push("offline_access");
    }
    const scope = asked.length ? asked.join(" ") : undefined;
    if (scope) params.set("scope", scope);
    params.set("resource", target.resource);
    // RFC 9449 §10: the code is bound to our key, so a stolen code is worth nothing.
    if (context.dpop) params.set("dpop_jkt", await context.dpop.calculateThumbprint());

    const callback = await session.complete(authorizationUrl);
    const parameters = checkCallback(callback, session.redirectUri, state, target, client);
    try {
      const result = await withNonceRetry(async () => {
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          auth,
          parameters,
          session.redirectUri,
          verifier,
          tokenRequestOptions(context, { resource: target.resource }),
        );
        return oauth.processAuthorizationCodeResponse(as, client, response);
      });
      await context.cache.save(target, result, scope, "grant");
    } catch (error) {
      throw await tokenError(error, "The authorization code exchange");
    }
  } finally {
    await session.close();
  }
}

/**
 * Checks the redirect back before the code is used: the right place, RFC 9207 `iss` (the
 * issuer, by exact string comparison; required when the server promises it), the same
 * `state`, and no error.
 */
function checkCallback(
  callback: URL,
  redirectUri: string,
  state: string,
  target: Target,
  client: oauth.Client,
): URLSearchParams {
  const expected = new URL(redirectUri);
  const loopback = expected.protocol === "http:" && isLoopbackHost(expected.hostname);
  if (
    callback.protocol !== expected.protocol ||
    callback.hostname !== expected.hostname ||
    callback.pathname !== expected.pathname ||
    (!loopback && callback.port !== expected.port)
  ) {
    throw new AuthorizationError(
      "ERR_BAD_CALLBACK",
      `The authorization response came back to ${callback.origin}${callback.pathname}, not ${redirectUri}`,
    );
  }
  const params = callback.searchParams;
  const iss = params.get("iss");
  if (iss === null && target.as.authorization_response_iss_parameter_supported === true) {
    throw new AuthorizationError(
      "ERR_ISS_MISMATCH",
      `${target.issuer} promises an iss parameter in authorization responses, but this one has none`,
    );
  }
  if (iss !== null && iss !== target.issuer) {
    throw new AuthorizationError(
      "ERR_ISS_MISMATCH",
      `The authorization response comes from ${iss}, not ${target.issuer}`,
    );
  }
  if (params.get("state") !== state) {
    throw new AuthorizationError(
      "ERR_STATE_MISMATCH",
      "The authorization response does not carry the state this client sent",
    );
  }
  const error = params.get("error");
  if (error !== null) {
    const description = params.get("error_description");
    throw new AuthorizationError(
      "ERR_AUTHORIZATION_DENIED",
      `${target.issuer} answered ${error}${description ? `: ${description}` : ""}`,
      { oauthError: error },
    );
  }
  if (!params.get("code")) {
    throw new AuthorizationError("ERR_BAD_CALLBACK", "The authorization response has no code");
  }
  try {
    return oauth.validateAuthResponse(target.as, client, callback, state);
  } catch (cause) {
    throw new AuthorizationError(
      "ERR_BAD_CALLBACK",
      `The authorization response is not acceptable: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}
