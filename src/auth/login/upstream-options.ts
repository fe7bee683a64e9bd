import type { ResolveHost } from "../../util/ssrf.ts";
import type { User } from "../login.ts";

/** The endpoints of a provider that publishes no discovery document (GitHub). */
export interface UpstreamEndpoints {
  authorization: string;
  token: string;
  /** An OpenID Connect style UserInfo endpoint; or give `profile` instead. */
  userinfo?: string;
}

/** The guarded fetch a `profile` function gets: public addresses only, bounded replies. */
export type UpstreamFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

export interface UpstreamOAuthOptions {
  /**
   * The provider's issuer identifier, whose metadata (OpenID Connect discovery, or RFC 8414
   * with `protocol: "oauth2"`) names the endpoints. Give this or `endpoints`.
   */
  issuer?: string;
  /**
   * The endpoints of a plain OAuth 2 provider without discovery. The sign-in is then plain
   * OAuth 2 (no ID token): the user comes from `endpoints.userinfo` or from `profile`.
   */
  endpoints?: UpstreamEndpoints;
  /**
   * Reads the signed-in user's claims from the provider's API with their access token, for a
   * provider without UserInfo (GitHub's `/user`). `fetch` is the guarded one: use it.
   */
  profile?: (accessToken: string, fetch: UpstreamFetch) => Promise<Record<string, unknown>>;
  /** URL-safe name; the callback is `{issuer}/login/{name}/callback`. Default "upstream". */
  name?: string;
  clientId: string;
  /** Omit for a public client (PKCE only). */
  clientSecret?: string;
  /**
   * How the secret goes to the token endpoint. Default: as the provider's metadata says,
   * `client_secret_basic` when it says nothing (RFC 8414's default).
   */
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post";
  /** Default "openid profile email" for OpenID Connect, none for plain OAuth 2. */
  scope?: string;
  /**
   * More parameters for the provider's authorization request, such as Google's
   * `access_type: "offline"`. They cannot replace the ones the flow sets itself.
   */
  authorizationParams?: Record<string, string>;
  /** OIDC (ID token, default with `issuer`) or plain OAuth 2 (the user comes from UserInfo or `profile`). */
  protocol?: "oidc" | "oauth2";
  /** Maps the provider's claims to a user; default uses `sub`, `name`, `email`. */
  mapUser?: (claims: Record<string, unknown>) => User;
  /**
   * Keep the provider's tokens, sealed with the server secret, under `upstream:{subject}` in
   * the Store, for handlers to call the provider's APIs as the user (`ctx.upstream.token()`).
   * Default false. They are never given to MCP clients. A signed-in user whose tokens are
   * gone signs in at the provider again; revoking any of the user's grants drops them.
   */
  keepTokens?: boolean;
  /** Seconds before expiry at which a kept access token is refreshed. Default 60. */
  refreshSkewSeconds?: number;
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

/** What the sign-in flow itself sets on the authorization request. */
const FLOW_PARAMS = [
  "client_id",
  "redirect_uri",
  "response_type",
  "scope",
  "code_challenge",
  "code_challenge_method",
  "state",
  "nonce",
];

/** Checks a configured URL: https, or http on request for loopback tests. */
export function checkUrl(
  value: unknown,
  what: string,
  insecure: boolean,
  who = "upstreamOAuth",
): URL {
  if (typeof value !== "string") throw new TypeError(`${who}: ${what} must be a URL`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${who}: ${what} is not a valid URL: ${value}`);
  }
  if (url.protocol !== "https:" && !(insecure && url.protocol === "http:")) {
    throw new TypeError(
      `${who}: ${what} must use https (http only with allowInsecureRequests, for loopback tests)`,
    );
  }
  return url;
}

/** Checks the options at construction, so a mistake fails at startup and not at a sign-in. */
export function checkUpstreamOptions(options: UpstreamOAuthOptions): void {
  if (typeof options !== "object" || options === null)
    throw new TypeError("upstreamOAuth needs options: { issuer or endpoints, clientId }");
  const insecure = options.allowInsecureRequests === true;
  if (typeof options.clientId !== "string" || options.clientId === "")
    throw new TypeError("upstreamOAuth: clientId must be a non-empty string");
  if (options.clientSecret !== undefined && typeof options.clientSecret !== "string")
    throw new TypeError("upstreamOAuth: clientSecret must be a string");
  if ((options.issuer === undefined) === (options.endpoints === undefined))
    throw new TypeError(
      "upstreamOAuth: give either issuer (discovery) or endpoints (a provider without discovery)",
    );
  if (options.issuer !== undefined) checkUrl(options.issuer, "issuer", insecure);
  const endpoints = options.endpoints;
  if (endpoints !== undefined) {
    checkUrl(endpoints.authorization, "endpoints.authorization", insecure);
    checkUrl(endpoints.token, "endpoints.token", insecure);
    if (endpoints.userinfo !== undefined)
      checkUrl(endpoints.userinfo, "endpoints.userinfo", insecure);
    if (options.protocol === "oidc")
      throw new TypeError(
        "upstreamOAuth: explicit endpoints mean plain OAuth 2; an OpenID provider is configured by its issuer",
      );
    if (endpoints.userinfo === undefined && options.profile === undefined)
      throw new TypeError(
        "upstreamOAuth: without discovery, name endpoints.userinfo or give profile(accessToken) to learn who signed in",
      );
  }
  if (options.profile !== undefined && typeof options.profile !== "function")
    throw new TypeError("upstreamOAuth: profile must be a function");
  if (options.protocol !== undefined && !["oidc", "oauth2"].includes(options.protocol))
    throw new TypeError('upstreamOAuth: protocol must be "oidc" or "oauth2"');
  if (options.name !== undefined && !/^[a-z][a-z0-9-]{0,31}$/.test(options.name))
    throw new TypeError("upstreamOAuth: name must be lower-case letters, digits and dashes");
  const extra = options.authorizationParams;
  if (extra !== undefined) {
    if (typeof extra !== "object" || extra === null)
      throw new TypeError("upstreamOAuth: authorizationParams must be an object of strings");
    for (const [key, value] of Object.entries(extra)) {
      if (typeof value !== "string")
        throw new TypeError(`upstreamOAuth: authorizationParams.${key} must be a string`);
      if (FLOW_PARAMS.includes(key))
        throw new TypeError(
          `upstreamOAuth: authorizationParams may not set ${key}; the flow sets it`,
        );
    }
  }
  const skew = options.refreshSkewSeconds;
  if (skew !== undefined && !(Number.isFinite(skew) && skew >= 0))
    throw new TypeError("upstreamOAuth: refreshSkewSeconds must be a number of seconds, 0 or more");
  const method = options.tokenEndpointAuthMethod;
  if (method !== undefined && method !== "client_secret_basic" && method !== "client_secret_post")
    throw new TypeError(
      'upstreamOAuth: tokenEndpointAuthMethod must be "client_secret_basic" or "client_secret_post"',
    );
}
