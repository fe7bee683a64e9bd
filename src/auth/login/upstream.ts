import { getCookie, setCookie } from "hono/cookie";
import { Hono } from "hono/tiny";
import * as oauth from "oauth4webapi";
import { sha256 } from "../../util/crypto.ts";
import { guardedFetch, type ResolveHost } from "../../util/ssrf.ts";
import type { LoginProvider, User } from "../login.ts";

export interface UpstreamOAuthOptions {
  /** The identity provider's issuer identifier (discovered through its metadata). */
  issuer: string;
  clientId: string;
  /** Omit for a public client (PKCE only). */
  clientSecret?: string;
  /** Default "openid profile email". */
  scope?: string;
  /** OIDC (ID token, default) or plain OAuth 2 (the user comes from `userinfo`). */
  protocol?: "oidc" | "oauth2";
  /** Maps the provider's claims to a user; default uses `sub`, `name`, `email`. */
  mapUser?: (claims: Record<string, unknown>) => User;
  /**
   * Keep the provider's tokens, sealed with the server secret, under `upstream:{subject}` in
   * the Store, for tools that call the provider's APIs. Default false. They are never given
   * to MCP clients.
   */
  keepTokens?: boolean;
  /** Permit http:// for a provider on loopback (tests and local development only). */
  allowInsecureRequests?: boolean;
  /**
   * The provider runs on your own network: its discovery document and endpoints may resolve
   * to private-network addresses (never loopback, link-local or cloud metadata ones). Default
   * false: every request goes to public addresses only, as for any URL from a third party.
   */
  allowPrivateNetwork?: boolean;
  /** Resolves the provider's host names. Default: the runtime's resolver (none on Workers). */
  resolveHost?: ResolveHost;
  /** The fetch to use (tests); requests are still checked, but not pinned to the checked addresses. */
  fetch?: typeof fetch;
}

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

/**
 * Federated login: the user signs in at another OAuth 2 / OpenID Connect provider, through
 * oauth4webapi with PKCE, state and nonce. The MCP client only ever gets our own tokens.
 */
export function upstreamOAuth(options: UpstreamOAuthOptions): LoginProvider {
  const issuer = new URL(options.issuer);
  const client: oauth.Client = { client_id: options.clientId };
  /** Secret in the Authorization header (the RFC 8414 default) unless the provider only takes it in the body. */
  const clientAuth = (as: oauth.AuthorizationServer): oauth.ClientAuth => {
    if (!options.clientSecret) return oauth.None();
    const methods = as.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
    return methods.includes("client_secret_basic")
      ? oauth.ClientSecretBasic(options.clientSecret)
      : oauth.ClientSecretPost(options.clientSecret);
  };
  const protocol = options.protocol ?? "oidc";
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
  let metadata: Promise<oauth.AuthorizationServer> | undefined;
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

  return {
    name: "upstream",
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
      url.searchParams.set("client_id", options.clientId);
      url.searchParams.set("redirect_uri", `${kit.issuer(c)}/login/upstream/callback`);
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
        const redirectUri = `${kit.issuer(c)}/login/upstream/callback`;
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
          const idClaims = oauth.getValidatedIdTokenClaims(tokens);
          claims = { ...idClaims };
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
        } catch {
          kit.failed(
            c,
            "the identity provider did not confirm the sign-in",
            await kit.pending(saved.pendingId),
          );
          return c.text("The identity provider did not confirm the sign-in.", 400);
        }
        const user = (options.mapUser ?? defaultUser)(claims);
        if (options.keepTokens) {
          const sealed = await (await kit.sealer()).seal(JSON.stringify(tokens));
          await kit.store.set(`upstream:${user.subject}`, sealed);
        }
        return kit.complete(c, user, saved.pendingId);
      });
      return routes;
    },
  };
}
