import type { LoginProvider, User } from "../login.ts";
import { upstreamOAuth } from "./upstream.ts";
import { checkUrl, type UpstreamOAuthOptions } from "./upstream-options.ts";

/** What every preset takes: the client, token keeping, the user mapping and the transport. */
export type PresetOptions = Omit<
  UpstreamOAuthOptions,
  "issuer" | "endpoints" | "profile" | "protocol" | "tokenEndpointAuthMethod"
>;

function need(options: unknown, who: string): void {
  if (typeof options !== "object" || options === null)
    throw new TypeError(`${who} needs options: { clientId, clientSecret }`);
}

export interface GitHubOAuthOptions extends PresetOptions {
  /** GitHub Enterprise Server's address, e.g. "https://github.example.com". Default github.com. */
  enterpriseUrl?: string;
}

/** GitHub's user: its numeric id (a login can be renamed), name (else login) and email. */
function githubUser(claims: Record<string, unknown>): User {
  const login = typeof claims.login === "string" ? claims.login : undefined;
  const user: User = { subject: String(claims.id) };
  const name = typeof claims.name === "string" && claims.name ? claims.name : login;
  if (name) user.name = name;
  if (typeof claims.email === "string") user.email = claims.email;
  if (login) user.claims = { login };
  return user;
}

/**
 * Sign-in with GitHub (an OAuth App or a GitHub App's user authorization): plain OAuth 2
 * without discovery or ID token; the user comes from the REST API's `/user`. Register the
 * callback `{issuer}/login/github/callback`. Default scope "read:user user:email". With
 * `keepTokens`, tools call GitHub's API as the user; GitHub Apps with expiring user tokens
 * get them refreshed.
 */
export function githubOAuth(options: GitHubOAuthOptions): LoginProvider {
  need(options, "githubOAuth");
  const { enterpriseUrl, ...rest } = options;
  let web = "https://github.com";
  let api = "https://api.github.com";
  if (enterpriseUrl !== undefined) {
    const url = checkUrl(
      enterpriseUrl,
      "enterpriseUrl",
      options.allowInsecureRequests === true,
      "githubOAuth",
    );
    web = url.origin;
    api = `${url.origin}/api/v3`;
  }
  return upstreamOAuth({
    name: "github",
    scope: "read:user user:email",
    mapUser: githubUser,
    ...rest,
    // GitHub takes the secret in the body; it publishes no metadata saying so.
    tokenEndpointAuthMethod: "client_secret_post",
    endpoints: {
      authorization: `${web}/login/oauth/authorize`,
      token: `${web}/login/oauth/access_token`,
    },
    async profile(accessToken, fetch) {
      const response = await fetch(`${api}/user`, {
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: "application/vnd.github+json",
          // GitHub refuses API requests without a User-Agent.
          "user-agent": "portcullis",
        },
      });
      if (!response.ok) throw new Error(`GitHub's /user answered ${response.status}`);
      return (await response.json()) as Record<string, unknown>;
    },
  });
}

/** OpenID Connect's offline access: the scope, and the consent prompt it needs (OIDC Core 11). */
function offline(options: PresetOptions, scope: string): Partial<UpstreamOAuthOptions> {
  return options.keepTokens
    ? { scope: `${scope} offline_access`, authorizationParams: { prompt: "consent" } }
    : { scope };
}

export interface OidcOAuthOptions extends PresetOptions {
  /** The OpenID provider's issuer identifier; its discovery document names the rest. */
  issuer: string;
}

/**
 * Sign-in with any OpenID Connect provider, by discovery: ID token with nonce, then UserInfo.
 * Register the callback `{issuer}/login/oidc/callback`. With `keepTokens` it asks for
 * `offline_access` (and consent, as OIDC requires for it) so the tokens can be refreshed.
 */
export function oidcOAuth(options: OidcOAuthOptions): LoginProvider {
  need(options, "oidcOAuth");
  checkUrl(options.issuer, "issuer", options.allowInsecureRequests === true, "oidcOAuth");
  return upstreamOAuth({
    name: "oidc",
    ...offline(options, "openid profile email"),
    ...options,
    protocol: "oidc",
  });
}

export type GoogleOAuthOptions = PresetOptions;

/**
 * Sign-in with Google (OpenID Connect at accounts.google.com). Register the callback
 * `{issuer}/login/google/callback`. With `keepTokens`, asks for offline access
 * (`access_type=offline`, and consent so a refresh token comes every time) and adds the
 * API scopes you list in `scope` after "openid profile email".
 */
export function googleOAuth(options: GoogleOAuthOptions): LoginProvider {
  need(options, "googleOAuth");
  const base = "openid profile email";
  const scope = options.scope === undefined ? base : `${base} ${options.scope}`;
  return upstreamOAuth({
    name: "google",
    ...options,
    scope,
    ...(options.keepTokens
      ? {
          authorizationParams: {
            access_type: "offline",
            prompt: "consent",
            ...options.authorizationParams,
          },
        }
      : {}),
    issuer: "https://accounts.google.com",
    protocol: "oidc",
  });
}

export interface EntraOAuthOptions extends PresetOptions {
  /**
   * The directory (tenant) id, a GUID. "common", "organizations" and "consumers" are not
   * accepted: their discovery names another issuer than the tokens carry.
   */
  tenant: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Sign-in with Microsoft Entra ID (OpenID Connect, v2.0 endpoints) for one tenant. Register
 * the callback `{issuer}/login/entra/callback`. With `keepTokens` it asks for
 * `offline_access`; list the API scopes you need (e.g. "User.Read") in `scope`.
 */
export function entraOAuth(options: EntraOAuthOptions): LoginProvider {
  need(options, "entraOAuth");
  if (typeof options.tenant !== "string" || !GUID.test(options.tenant))
    throw new TypeError(
      'entraOAuth: tenant must be the directory (tenant) id, a GUID; multi-tenant "common", "organizations" and "consumers" are not supported',
    );
  const { tenant, ...rest } = options;
  const base = "openid profile email";
  const scope = rest.scope === undefined ? base : `${base} ${rest.scope}`;
  return upstreamOAuth({
    name: "entra",
    ...rest,
    scope: rest.keepTokens ? `${scope} offline_access` : scope,
    issuer: `https://login.microsoftonline.com/${tenant.toLowerCase()}/v2.0`,
    protocol: "oidc",
  });
}
