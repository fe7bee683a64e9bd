import { getCookie, setCookie } from "hono/cookie";
import { Hono } from "hono/tiny";
import * as oauth from "oauth4webapi";
import { sha256 } from "../../util/crypto.ts";
import { guardedFetch } from "../../util/ssrf.ts";
import { UpstreamRefusedError } from "../errors.ts";
import type { LoginProvider, UpstreamTokenSet, User } from "../login.ts";
import { checkUpstreamOptions, type UpstreamOAuthOptions } from "./upstream-options.ts";

export type {
  UpstreamEndpoints,
  UpstreamFetch,
  UpstreamOAuthOptions,
} from "./upstream-options.ts";

interface UpstreamState {
  pendingId: string;
  verifier: string;
  nonce: string;
}

function defaultUser(claims: Record<string, unknown>): User {
  const user: User = { subject: String(claims.sub) };
  if (typeof claims.name === "string") user.name = claims.name;
  if (typeof claims.email === "string") user.email = claims.email;
  return user;
}

/** The OAuth error code a failed token request carries, wherever the provider put it. */
function oauthErrorCode(error: unknown): string | undefined {
  if (error instanceof oauth.ResponseBodyError) return error.error;
  // GitHub answers a refused grant with 200 and an error body: not a token response.
  if (error instanceof oauth.OperationProcessingError) {
    const body = (error.cause as { body?: { error?: unknown } } | undefined)?.body;
    if (typeof body?.error === "string") return body.error;
  }
  return undefined;
}

/** Codes by which providers refuse a refresh token for good (GitHub says bad_refresh_token). */
const REFUSED = new Set(["invalid_grant", "bad_refresh_token"]);

/** The part of a token response kept for the provider's APIs. */
function tokenSet(tokens: oauth.TokenEndpointResponse): UpstreamTokenSet {
  const set: UpstreamTokenSet = { access_token: tokens.access_token };
  if (tokens.token_type) set.token_type = tokens.token_type;
  if (tokens.refresh_token) set.refresh_token = tokens.refresh_token;
  if (typeof tokens.expires_in === "number") set.expires_in = tokens.expires_in;
  if (tokens.scope) set.scope = tokens.scope;
  if (tokens.id_token) set.id_token = tokens.id_token;
  return set;
}

/**
 * Federated login: the user signs in at another OAuth 2 / OpenID Connect provider, through
 * oauth4webapi with PKCE, state and nonce. The provider is found by discovery (`issuer`) or
 * named by its endpoints (`endpoints`, for plain OAuth 2 providers such as GitHub). The MCP
 * client only ever gets our own tokens; with `keepTokens`, handlers reach the provider's as
 * `ctx.upstream.token()`. Presets: `githubOAuth`, `googleOAuth`, `entraOAuth`, `oidcOAuth`.
 */
export function upstreamOAuth(options: UpstreamOAuthOptions): LoginProvider {
  checkUpstreamOptions(options);
  const endpoints = options.endpoints;
  const issuer = new URL(options.issuer ?? new URL(endpoints!.authorization).origin);
  const name = options.name ?? "upstream";
  const client: oauth.Client = { client_id: options.clientId };
  /** As configured; else the secret in the Authorization header (RFC 8414's default) unless the provider takes it only in the body. */
  const clientAuth = (as: oauth.AuthorizationServer): oauth.ClientAuth => {
    if (!options.clientSecret) return oauth.None();
    const methods = as.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
    const method =
      options.tokenEndpointAuthMethod ??
      (methods.includes("client_secret_basic") ? "client_secret_basic" : "client_secret_post");
    return method === "client_secret_basic"
      ? oauth.ClientSecretBasic(options.clientSecret)
      : oauth.ClientSecretPost(options.clientSecret);
  };
  const protocol = options.protocol ?? (endpoints ? "oauth2" : "oidc");
  // The discovery document names the endpoints: they are fetched under the same rules as any
  // URL a third party gives us (public addresses, pinned connections, bounded replies).
  const transport = guardedFetch({
    allowLoopback: options.allowInsecureRequests === true,
    allowPrivateNetwork: options.allowPrivateNetwork === true,
    maxBytes: 256 * 1024,
    timeoutMs: 10_000,
    ...(options.resolveHost && { resolveHost: options.resolveHost }),
    ...(options.fetch && { fetch: options.fetch }),
  });
  /** Adds the transport options every oauth4webapi request takes. */
  const withTransport = <T extends object>(request: T): T => {
    const symbols = request as Record<symbol, unknown>;
    if (options.allowInsecureRequests) symbols[oauth.allowInsecureRequests] = true;
    symbols[oauth.customFetch] = transport;
    return request;
  };
  let metadata: Promise<oauth.AuthorizationServer> | undefined = endpoints
    ? Promise.resolve({
        issuer: issuer.href,
        authorization_endpoint: endpoints.authorization,
        token_endpoint: endpoints.token,
        ...(endpoints.userinfo === undefined ? {} : { userinfo_endpoint: endpoints.userinfo }),
      })
    : undefined;
  const discover = () => {
    metadata ??= oauth
      .discoveryRequest(
        issuer,
        withTransport<oauth.DiscoveryRequestOptions>({ algorithm: protocol }),
      )
      .then((response) => oauth.processDiscoveryResponse(issuer, response))
      .catch((error) => {
        metadata = undefined;
        throw error;
      });
    return metadata;
  };
  // The state is kept under a hash of itself and a random value in a cookie of the browser
  // that started the sign-in, so a response delivered to another browser finds nothing
  // (login CSRF; RFC 6749 section 10.12, RFC 9700 section 4.7).
  const bindingCookie = "portcullis-upstream";
  const stateKey = async (state: string, binding: string) =>
    `as:upstream-state:${await sha256(`${state}.${binding}`)}`;

  /** Who signed in: ID token claims, then UserInfo or the provider's API (`profile`). */
  const claimsOf = async (
    as: oauth.AuthorizationServer,
    tokens: oauth.TokenEndpointResponse,
  ): Promise<Record<string, unknown>> => {
    const idClaims = oauth.getValidatedIdTokenClaims(tokens);
    if (options.profile) {
      return { ...(await options.profile(tokens.access_token, transport)), ...idClaims };
    }
    let claims: Record<string, unknown> = { ...idClaims };
    // In the code flow, OIDC providers may give profile and email claims only through
    // UserInfo (OIDC Core 5.4): ask it when there is one; the ID token's claims win, and
    // it is required only without an ID token.
    if (!idClaims || as.userinfo_endpoint) {
      try {
        const info = await oauth.userInfoRequest(
          as,
          client,
          tokens.access_token,
          withTransport<oauth.UserInfoRequestOptions>({}),
        );
        claims = {
          ...(await oauth.processUserInfoResponse(
            as,
            client,
            idClaims ? idClaims.sub : oauth.skipSubjectCheck,
            info,
          )),
          ...idClaims,
        };
      } catch (error) {
        if (!idClaims) throw error;
      }
    }
    return claims;
  };

  const refresh = async (refreshToken: string): Promise<UpstreamTokenSet> => {
    const as = await discover();
    try {
      const response = await oauth.refreshTokenGrantRequest(
        as,
        client,
        clientAuth(as),
        refreshToken,
        withTransport<oauth.TokenEndpointRequestOptions>({}),
      );
      return tokenSet(await oauth.processRefreshTokenResponse(as, client, response));
    } catch (error) {
      const code = oauthErrorCode(error);
      if (code !== undefined && REFUSED.has(code))
        throw new UpstreamRefusedError(`The provider refused the refresh token (${code})`, {
          cause: error,
        });
      throw error;
    }
  };

  return {
    name,
    ...(options.keepTokens
      ? { upstream: { refresh, refreshSkewSeconds: options.refreshSkewSeconds ?? 60 } }
      : {}),
    async challenge(c, pending, kit) {
      const as = await discover();
      if (!as.authorization_endpoint)
        throw new Error("The upstream provider has no authorization endpoint");
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const record: UpstreamState = { pendingId: pending.id, verifier, nonce };
      const existing = getCookie(c, bindingCookie, "host");
      const binding =
        existing && /^[\w-]{43}$/.test(existing) ? existing : oauth.generateRandomState();
      setCookie(c, bindingCookie, binding, {
        prefix: "host",
        httpOnly: true,
        sameSite: "Lax",
        maxAge: 600,
      });
      await kit.store.set(await stateKey(state, binding), record, { ttlMs: 10 * 60_000 });
      const url = new URL(as.authorization_endpoint);
      for (const [key, value] of Object.entries(options.authorizationParams ?? {}))
        url.searchParams.set(key, value);
      url.searchParams.set("client_id", options.clientId);
      url.searchParams.set("redirect_uri", `${kit.issuer(c)}/login/${name}/callback`);
      url.searchParams.set("response_type", "code");
      url.searchParams.set(
        "scope",
        options.scope ?? (protocol === "oidc" ? "openid profile email" : ""),
      );
      url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
      url.searchParams.set("code_challenge_method", "S256");
      url.searchParams.set("state", state);
      if (protocol === "oidc") url.searchParams.set("nonce", nonce);
      return c.redirect(url.href, 303);
    },
    routes(kit) {
      const routes = new Hono();
      routes.get("/callback", async (c) => {
        const current = new URL(c.req.url);
        const state = current.searchParams.get("state") ?? "";
        const binding = getCookie(c, bindingCookie, "host") ?? "";
        const saved =
          state && binding
            ? await kit.store.take<UpstreamState>(await stateKey(state, binding))
            : undefined;
        if (!saved) {
          kit.failed(c, "the upstream sign-in state is unknown, expired or used");
          return c.text("This sign-in has expired or was already used. Start again.", 400);
        }
        const as = await discover();
        const redirectUri = `${kit.issuer(c)}/login/${name}/callback`;
        let claims: Record<string, unknown>;
        let tokens: oauth.TokenEndpointResponse;
        try {
          const params = oauth.validateAuthResponse(as, client, current, state);
          const response = await oauth.authorizationCodeGrantRequest(
            as,
            client,
            clientAuth(as),
            params,
            redirectUri,
            saved.verifier,
            withTransport<oauth.TokenEndpointRequestOptions>({}),
          );
          tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
            ...(protocol === "oidc" ? { expectedNonce: saved.nonce, requireIdToken: true } : {}),
          });
          claims = await claimsOf(as, tokens);
        } catch {
          kit.failed(
            c,
            "the identity provider did not confirm the sign-in",
            await kit.pending(saved.pendingId),
          );
          return c.text("The identity provider did not confirm the sign-in.", 400);
        }
        const user = (options.mapUser ?? defaultUser)(claims);
        if (options.keepTokens) await kit.keepUpstreamTokens(user.subject, tokenSet(tokens));
        return kit.complete(c, user, saved.pendingId);
      });
      return routes;
    },
  };
}
