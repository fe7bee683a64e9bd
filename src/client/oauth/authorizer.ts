import * as oauth from "oauth4webapi";
import { canonicalResource } from "../../auth/resource-uri.ts";
import { isLoopbackHost } from "../../http/origin.ts";
import type { Authorizer } from "../auth-seam.ts";
import { type BearerChallenge, parseBearerChallenge } from "./challenge.ts";
import {
  discoverAuthorizationServer,
  discoverLegacyServer,
  discoverResource,
} from "./discovery.ts";
import { AuthorizationError, findAuthorizationError } from "./errors.ts";
import { checkTarget, type FetchPolicy, guardedFetch } from "./fetch.ts";
import type { RedirectHandler } from "./redirect.ts";
import {
  type ClientAuthMethod,
  type IssuerRecord,
  memoryTokenStore,
  type StoredClient,
  type StoredTokens,
  type TokenStore,
} from "./store.ts";

/** A client registered with an authorization server in advance. */
export interface PreRegisteredClient {
  clientId: string;
  clientSecret?: string;
  /** For `private_key_jwt`: the key that signs client assertions. */
  privateKey?: CryptoKey | { key: CryptoKey; kid?: string };
  /**
   * How the client authenticates at the token endpoint. Default: `private_key_jwt` with a
   * key, else a secret method the server supports, else `none`.
   */
  authMethod?: ClientAuthMethod;
  /** Use this client only with the authorization server that has this issuer. */
  issuer?: string;
}

/** Metadata sent with dynamic client registration (redirect URIs and grants are filled in). */
export interface ClientMetadata {
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  software_id?: string;
  software_version?: string;
}

/** What an assertion callback (`assertion` option) is told about the token request it is for. */
export interface AssertionContext {
  issuer: string;
  /** The resource indicator the token is for. */
  resource: string;
  tokenEndpoint: string;
  scope?: string;
}

export interface OAuthAuthorizerOptions {
  /**
   * The MCP endpoint this authorizer is for. Default: the URL of the first challenge's
   * response. Either way the authorizer serves one server and refuses challenges from another.
   */
  serverUrl?: string | URL;
  /** Gets a person through sign-in and consent (authorization code flow). */
  redirect?: RedirectHandler;
  /** Where registrations and tokens are kept, by issuer. Default: in memory. */
  tokens?: TokenStore;
  /** A client registered in advance: tried before metadata documents and registration. */
  client?: PreRegisteredClient;
  /**
   * The URL of this client's Client ID Metadata Document, used as its client id with
   * authorization servers that advertise `client_id_metadata_document_supported`.
   */
  clientMetadataUrl?: string;
  /** Sent with dynamic client registration. */
  clientMetadata?: ClientMetadata;
  /**
   * A machine client: get tokens with the client_credentials grant and the `client`
   * credentials, never a browser.
   */
  clientCredentials?: boolean;
  /**
   * Get tokens with the JWT bearer grant (RFC 7523), e.g. an ID-JAG from an enterprise
   * identity provider: resolves the assertion for each token request.
   */
  assertion?: (context: AssertionContext) => Promise<string>;
  /** Scopes to ask for besides those the server names. */
  scope?: string;
  /** Add `offline_access` when the authorization server lists it (for a refresh token). Default true. */
  offlineAccess?: boolean;
  /** Authorizations for one scope set before step-up gives up. Default 3. */
  maxStepUps?: number;
  /** Refresh this many seconds before the access token expires. Default 60. */
  refreshSkewSeconds?: number;
  /**
   * Allow http:// metadata and endpoints on loopback hosts. Default: only when the server
   * itself is on a loopback host.
   */
  allowLoopback?: boolean;
  /**
   * Also allow metadata and endpoints on private-network addresses (10/8, 172.16/12,
   * 192.168/16, 100.64/10, fc00::/7), for servers on your own network. Default false.
   */
  allowPrivateNetwork?: boolean;
  /**
   * Resolves host names; every address must be public. Default: the runtime's resolver on
   * Node, Bun and Deno (where connections then go only to the addresses checked).
   */
  resolveHost?: (hostname: string) => Promise<readonly string[]>;
  /**
   * The fetch for metadata, registration and token requests. Default: connections pinned to
   * the checked addresses on Node, Bun and Deno; the global fetch elsewhere.
   */
  fetch?: typeof fetch;
  /** Time limit for each of those requests, body included. Default 10 s. */
  timeoutMs?: number;
  /** Largest reply accepted from those requests. Default 256 KiB. */
  maxResponseBytes?: number;
  /** Follow the 2025-03-26 rules for servers without resource metadata. Default true. */
  legacyDiscovery?: boolean;
}

/** Where a server's tokens come from, as discovered. */
interface Target {
  serverUrl: URL;
  /** The resource indicator, exactly as published. */
  resource: string;
  issuer: string;
  as: oauth.AuthorizationServer;
  scopesSupported?: string[];
}

/** How the current access token was obtained, to tell a fresh token's rejection from expiry. */
type Origin = "grant" | "refresh" | "store";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

const now = () => Math.floor(Date.now() / 1000);

function scopeKey(scopes: Iterable<string>): string {
  return [...new Set(scopes)].sort().join(" ");
}

function splitScope(scope: string | undefined): string[] {
  return scope ? scope.split(/\s+/).filter(Boolean) : [];
}

/** Whether a stored registration's redirect URI serves for this one (RFC 8252 §7.3: any loopback port). */
function sameRedirect(registered: string | undefined, current: string): boolean {
  if (registered === undefined || registered === current) return registered === current;
  if (!URL.canParse(registered) || !URL.canParse(current)) return false;
  const a = new URL(registered);
  const b = new URL(current);
  return (
    a.protocol === "http:" &&
    b.protocol === "http:" &&
    isLoopbackHost(a.hostname) &&
    a.hostname === b.hostname &&
    a.pathname === b.pathname &&
    a.search === b.search
  );
}

/**
 * client_secret_basic with the id and secret form-encoded as RFC 6749 §2.3.1 says, by the
 * WHATWG serializer: unlike oauth4webapi's, it leaves "-", ".", "_" and "*" alone, so the
 * usual ids and secrets reach servers that never decode them (many) unchanged.
 */
function clientSecretBasic(secret: string): oauth.ClientAuth {
  const encode = (value: string) => new URLSearchParams([["", value]]).toString().slice(1);
  return (_as, client, _body, headers) => {
    headers.set("authorization", `Basic ${btoa(`${encode(client.client_id)}:${encode(secret)}`)}`);
  };
}

function isNativeRedirect(uri: string): boolean {
  const url = new URL(uri);
  if (url.protocol === "https:") return false;
  return url.protocol !== "http:" || isLoopbackHost(url.hostname);
}

/**
 * Authorizes an MCP client's HTTP requests the way the MCP authorization spec says a client
 * must, against any compliant server. On a 401 it reads the challenge, finds the protected
 * resource metadata and checks it names this server, finds the authorization server's
 * metadata (exact issuer), gets a client id (pre-registered, metadata document, or dynamic
 * registration), and runs the authorization code flow with PKCE S256, `state`, RFC 9207
 * `iss` and the `resource` indicator; or client_credentials / JWT bearer for machines.
 * Tokens are refreshed before they expire and when rejected; a 403 `insufficient_scope`
 * steps up to the union of scopes, a bounded number of times. Every URL a server hands it
 * is checked before it is fetched (https, public addresses, bounded size and time).
 *
 * One authorizer serves one MCP server; registrations and tokens are kept by issuer in the
 * TokenStore, tokens under the resource they were issued for.
 *
 * ```ts
 * const authorizer = new OAuthAuthorizer({ redirect: loopbackRedirect(), tokens: fileTokenStore(path, { key }) });
 * await client.connect("https://example.com/mcp", { authorizer });
 * ```
 */
export class OAuthAuthorizer implements Authorizer {
  readonly #options: OAuthAuthorizerOptions;
  readonly #store: TokenStore;
  #serverUrl: URL | undefined;
  #policy: FetchPolicy | undefined;
  #target: Target | undefined;
  #tokens: StoredTokens | undefined;
  #origin: Origin = "store";
  /** How many requests the current token was handed to. */
  #uses = 0;
  /** Access tokens a server answered 401 to: never loaded from the store again. */
  readonly #rejected = new Set<string>();
  /** Scopes asked for so far: a new authorization keeps what earlier ones got. */
  readonly #scopes = new Set<string>();
  /** Authorizations per scope set, to bound step-up. */
  readonly #attempts = new Map<string, number>();
  readonly #servers = new Map<string, oauth.AuthorizationServer>();
  /** The flow in progress: one at a time, and requests wait for it. */
  #busy: Promise<unknown> | undefined;

  constructor(options: OAuthAuthorizerOptions = {}) {
    this.#options = options;
    this.#store = options.tokens ?? memoryTokenStore();
    if (options.serverUrl !== undefined) this.#bindUrl(new URL(options.serverUrl));
  }

  /** The issuer and resource tokens currently come from and are for, once discovered. */
  get session(): { issuer: string; resource: string; scope?: string } | undefined {
    const target = this.#target;
    if (!target) return undefined;
    const scope = this.#tokens?.scope;
    return {
      issuer: target.issuer,
      resource: target.resource,
      ...(scope !== undefined && { scope }),
    };
  }

  /**
   * The Authorization header for the next request. Given the request's URL, it is withheld
   * from any URL other than the server this authorizer serves.
   */
  async headers(url?: string | URL): Promise<Record<string, string>> {
    if (url !== undefined && this.#serverUrl !== undefined) {
      const to = canonicalResource(new URL(url).href);
      if (to !== canonicalResource(this.#serverUrl.href)) return {};
    }
    await this.#busy?.catch(() => undefined);
    let tokens = this.#tokens;
    if (!tokens) return {};
    if (this.#expiring(tokens)) {
      if (tokens.refreshToken) {
        // A failed refresh is not fatal here: the request goes out as it can, and the 401
        // that follows takes the full path.
        await this.#exclusive(() => this.#refresh()).catch(() => undefined);
        tokens = this.#tokens;
      }
      if (tokens && tokens.expiresAt !== undefined && tokens.expiresAt <= now()) {
        this.#tokens = undefined;
        return {};
      }
      if (!tokens) return {};
    }
    this.#uses++;
    return { authorization: `Bearer ${tokens.accessToken}` };
  }

  async onUnauthorized(response: Response): Promise<boolean> {
    const challenge = parseBearerChallenge(response.headers.get("www-authenticate"));
    const serverUrl = this.#bind(response);
    const held = this.#tokens;
    const handedOut = this.#uses > 0;
    return this.#exclusive(async () => {
      // Another request's 401 already replaced the token this one was sent with.
      if (this.#tokens && this.#tokens !== held) return true;
      const rejected = held && handedOut ? held : undefined;
      if (rejected) this.#rejected.add(rejected.accessToken);
      const target = await this.#discover(serverUrl, challenge);
      if (rejected && this.#tokens === rejected) {
        if (this.#origin === "grant" && this.#uses <= 1) {
          throw new AuthorizationError(
            "ERR_TOKEN_REJECTED",
            `${serverUrl.href} refused the token ${target.issuer} has just issued for it`,
          );
        }
        // A token that was refreshed and at once refused will not be saved by refreshing again.
        const justRefreshed = this.#origin === "refresh" && this.#uses <= 1;
        if (rejected.refreshToken && !justRefreshed) {
          if (await this.#refresh().catch(() => false)) return true;
        }
        this.#tokens = undefined;
      }
      // A token we hold but the failed request did not carry (it was sent before we had one).
      if (this.#tokens && !this.#rejected.has(this.#tokens.accessToken)) return true;
      this.#tokens = undefined;
      const stored = (await this.#record(target.issuer))?.tokens?.[target.resource];
      if (stored && !this.#rejected.has(stored.accessToken) && this.#usable(stored)) {
        this.#use(stored, "store");
        if (this.#expiring(stored) && stored.refreshToken) {
          await this.#refresh().catch(() => undefined);
        }
        if (this.#tokens && this.#usable(this.#tokens)) return true;
        this.#tokens = undefined;
      }
      await this.#obtain(target, this.#scopesFor(target, challenge?.scope));
      return true;
    });
  }

  async onForbidden(response: Response): Promise<boolean> {
    const challenge = parseBearerChallenge(response.headers.get("www-authenticate"));
    if (challenge?.error !== "insufficient_scope") return false;
    const required = challenge.scope ?? [];
    // Without the scope it needs, the server leaves nothing to ask for.
    if (required.length === 0) return false;
    const serverUrl = this.#bind(response);
    return this.#exclusive(async () => {
      const target = this.#target ?? (await this.#discover(serverUrl, challenge));
      const scopes = new Set([...this.#scopes, ...splitScope(this.#tokens?.scope), ...required]);
      scopes.delete("offline_access");
      const key = scopeKey(scopes);
      const max = this.#options.maxStepUps ?? 3;
      if ((this.#attempts.get(key) ?? 0) >= max) {
        throw new AuthorizationError(
          "ERR_STEP_UP_LIMIT",
          `${serverUrl.href} still refuses after ${max} authorizations for "${key}"`,
        );
      }
      await this.#obtain(target, scopes);
      return true;
    });
  }

  // Binding to one server

  #bindUrl(url: URL): void {
    this.#serverUrl = url;
    this.#policy = {
      fetch: this.#options.fetch,
      allowLoopback: this.#options.allowLoopback ?? isLoopbackHost(url.hostname),
      allowPrivateNetwork: this.#options.allowPrivateNetwork,
      resolveHost: this.#options.resolveHost,
      timeoutMs: this.#options.timeoutMs ?? 10_000,
      maxBytes: this.#options.maxResponseBytes ?? 256 * 1024,
      maxRedirects: 3,
    };
  }

  /** The server a challenge came from: the one this authorizer serves, and no other. */
  #bind(response: Response): URL {
    const from = response.url ? new URL(response.url) : undefined;
    const bound = this.#serverUrl;
    if (!bound) {
      if (!from) {
        throw new AuthorizationError(
          "ERR_SERVER_URL_UNKNOWN",
          "The challenge's response has no URL; give the authorizer a serverUrl",
        );
      }
      this.#bindUrl(from);
      return from;
    }
    if (from && canonicalResource(from.href) !== canonicalResource(bound.href)) {
      throw new AuthorizationError(
        "ERR_SERVER_MISMATCH",
        `This authorizer serves ${bound.href}; it will not authorize ${from.href}`,
      );
    }
    return bound;
  }

  get #fetchPolicy(): FetchPolicy {
    if (!this.#policy) throw new Error("The authorizer is not bound to a server yet");
    return this.#policy;
  }

  // Discovery

  async #discover(serverUrl: URL, challenge: BearerChallenge | undefined): Promise<Target> {
    const policy = this.#fetchPolicy;
    const prm = await discoverResource(policy, serverUrl, challenge?.resourceMetadata);
    let target: Target;
    if (prm) {
      const wanted = this.#options.client?.issuer;
      const issuer =
        wanted !== undefined && prm.authorizationServers.includes(wanted)
          ? wanted
          : prm.authorizationServers[0]!;
      let as = this.#servers.get(issuer);
      if (!as) {
        as = await discoverAuthorizationServer(policy, issuer);
        this.#servers.set(issuer, as);
      }
      target = { serverUrl, resource: prm.resource, issuer, as };
      if (prm.scopesSupported) target.scopesSupported = prm.scopesSupported;
    } else if (this.#options.legacyDiscovery !== false) {
      const as = await discoverLegacyServer(policy, serverUrl);
      target = { serverUrl, resource: canonicalResource(serverUrl.href)!, issuer: as.issuer, as };
    } else {
      throw new AuthorizationError(
        "ERR_METADATA_NOT_FOUND",
        `${serverUrl.href} publishes no protected resource metadata`,
      );
    }
    const previous = this.#target;
    if (previous && (previous.issuer !== target.issuer || previous.resource !== target.resource)) {
      // Another authorization server (or resource) now: nothing from the old one applies.
      this.#tokens = undefined;
      this.#scopes.clear();
      this.#attempts.clear();
    }
    this.#target = target;
    return target;
  }

  /**
   * What to ask for: the challenge's scope, else everything the resource metadata lists, else
   * nothing (the server's default) — plus whatever was asked for before and the `scope` option.
   */
  #scopesFor(target: Target, challenged: string[] | undefined): Set<string> {
    const scopes = new Set(this.#scopes);
    if (challenged?.length) for (const scope of challenged) scopes.add(scope);
    else if (scopes.size === 0) for (const scope of target.scopesSupported ?? []) scopes.add(scope);
    for (const scope of splitScope(this.#options.scope)) scopes.add(scope);
    return scopes;
  }

  // Tokens

  #expiring(tokens: StoredTokens): boolean {
    const skew = this.#options.refreshSkewSeconds ?? 60;
    return tokens.expiresAt !== undefined && tokens.expiresAt - skew <= now();
  }

  #usable(tokens: StoredTokens): boolean {
    return tokens.expiresAt === undefined || tokens.expiresAt > now() || !!tokens.refreshToken;
  }

  #use(tokens: StoredTokens, origin: Origin): void {
    this.#tokens = tokens;
    this.#origin = origin;
    this.#uses = 0;
    for (const scope of splitScope(tokens.scope)) {
      if (scope !== "offline_access") this.#scopes.add(scope);
    }
  }

  /** Runs one flow at a time; requests wait in headers() until it settles. */
  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    const previous = this.#busy ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(run);
    this.#busy = next;
    void next
      .finally(() => {
        if (this.#busy === next) this.#busy = undefined;
      })
      .catch(() => undefined);
    return next;
  }

  async #record(issuer: string): Promise<IssuerRecord | undefined> {
    return this.#store.get(issuer);
  }

  async #save(
    target: Target,
    result: oauth.TokenEndpointResponse,
    asked: string | undefined,
    origin: Origin,
    previous?: StoredTokens,
  ): Promise<void> {
    if (result.token_type.toLowerCase() !== "bearer") {
      throw new AuthorizationError(
        "ERR_TOKEN_REQUEST_FAILED",
        `${target.issuer} issued a ${result.token_type} token; only bearer tokens are supported`,
      );
    }
    const tokens: StoredTokens = { accessToken: result.access_token, tokenType: "Bearer" };
    const refreshToken = result.refresh_token ?? previous?.refreshToken;
    if (refreshToken !== undefined) tokens.refreshToken = refreshToken;
    if (typeof result.expires_in === "number") tokens.expiresAt = now() + result.expires_in;
    const scope = result.scope ?? previous?.scope ?? asked;
    if (scope !== undefined) tokens.scope = scope;
    const record = (await this.#record(target.issuer)) ?? {};
    record.tokens = { ...record.tokens, [target.resource]: tokens };
    await this.#store.set(target.issuer, record);
    this.#use(tokens, origin);
  }

  /** Forgets the refresh token that no longer works, here and in the store. */
  async #dropRefreshToken(target: Target, tokens: StoredTokens): Promise<void> {
    const { refreshToken: _dropped, ...rest } = tokens;
    const record = await this.#record(target.issuer);
    if (record?.tokens && record.tokens[target.resource]?.refreshToken === tokens.refreshToken) {
      record.tokens = { ...record.tokens, [target.resource]: rest };
      await this.#store.set(target.issuer, record);
    }
    if (this.#tokens === tokens) this.#tokens = rest;
  }

  async #refresh(): Promise<boolean> {
    const target = this.#target;
    const tokens = this.#tokens;
    if (!target || !tokens?.refreshToken) return false;
    const { client, auth } = await this.#client(target, undefined);
    let result: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.refreshTokenGrantRequest(
        target.as,
        client,
        auth,
        tokens.refreshToken,
        this.#http({ resource: target.resource }),
      );
      result = await oauth.processRefreshTokenResponse(target.as, client, response);
    } catch (error) {
      const failure = await this.#tokenError(error, "The refresh token request");
      if (failure.oauthError !== undefined) await this.#dropRefreshToken(target, tokens);
      throw failure;
    }
    await this.#save(target, result, tokens.scope, "refresh", tokens);
    return true;
  }

  /** Gets new tokens for a scope set: the configured grant, or a person through the browser. */
  async #obtain(target: Target, scopes: Set<string>): Promise<void> {
    const key = scopeKey(scopes);
    this.#attempts.set(key, (this.#attempts.get(key) ?? 0) + 1);
    for (const scope of scopes) this.#scopes.add(scope);
    const scope = key || undefined;
    if (this.#options.assertion) return this.#assertionGrant(target, scope);
    if (this.#options.clientCredentials) return this.#clientCredentials(target, scope);
    return this.#authorizationCode(target, scopes);
  }

  async #clientCredentials(target: Target, scope: string | undefined): Promise<void> {
    const { client, auth } = await this.#client(target, undefined);
    const parameters: Record<string, string> = { resource: target.resource };
    if (scope) parameters.scope = scope;
    try {
      const response = await oauth.clientCredentialsGrantRequest(
        target.as,
        client,
        auth,
        parameters,
        this.#http(),
      );
      const result = await oauth.processClientCredentialsResponse(target.as, client, response);
      await this.#save(target, result, scope, "grant");
    } catch (error) {
      throw await this.#tokenError(error, "The client_credentials request");
    }
  }

  async #assertionGrant(target: Target, scope: string | undefined): Promise<void> {
    const { client, auth } = await this.#client(target, undefined);
    const context: AssertionContext = {
      issuer: target.issuer,
      resource: target.resource,
      tokenEndpoint: String(target.as.token_endpoint),
    };
    if (scope) context.scope = scope;
    const assertion = await this.#options.assertion!(context);
    const parameters: Record<string, string> = { assertion, resource: target.resource };
    if (scope) parameters.scope = scope;
    try {
      const response = await oauth.genericTokenEndpointRequest(
        target.as,
        client,
        auth,
        JWT_BEARER,
        parameters,
        this.#http(),
      );
      const result = await oauth.processGenericTokenEndpointResponse(target.as, client, response);
      await this.#save(target, result, scope, "grant");
    } catch (error) {
      throw await this.#tokenError(error, "The JWT bearer grant request");
    }
  }

  async #authorizationCode(target: Target, scopes: Set<string>): Promise<void> {
    const redirect = this.#options.redirect;
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
    await checkTarget(authorizationUrl, this.#fetchPolicy);
    const session = await redirect.start();
    try {
      const { client, auth } = await this.#client(target, session.redirectUri);
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
        this.#options.offlineAccess !== false &&
        as.scopes_supported?.includes("offline_access") &&
        !asked.includes("offline_access")
      ) {
        asked.push("offline_access");
      }
      const scope = asked.length ? asked.join(" ") : undefined;
      if (scope) params.set("scope", scope);
      params.set("resource", target.resource);

      const callback = await session.complete(authorizationUrl);
      const parameters = this.#checkCallback(callback, session.redirectUri, state, target, client);
      try {
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          auth,
          parameters,
          session.redirectUri,
          verifier,
          this.#http({ resource: target.resource }),
        );
        const result = await oauth.processAuthorizationCodeResponse(as, client, response);
        await this.#save(target, result, scope, "grant");
      } catch (error) {
        throw await this.#tokenError(error, "The authorization code exchange");
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
  #checkCallback(
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

  // Clients

  /**
   * The client to use with an authorization server: the pre-registered one, else the one
   * kept from earlier, else the metadata document URL, else a new dynamic registration.
   * `redirectUri` is the flow's redirect URI (undefined for grants without one).
   */
  async #client(
    target: Target,
    redirectUri: string | undefined,
  ): Promise<{ client: oauth.Client; auth: oauth.ClientAuth }> {
    const as = target.as;
    const given = this.#options.client;
    if (given && (given.issuer === undefined || given.issuer === target.issuer)) {
      const method = given.authMethod ?? this.#secretMethod(as, given);
      return {
        client: { client_id: given.clientId, token_endpoint_auth_method: method },
        auth: this.#clientAuth(method, given.clientSecret, given.privateKey),
      };
    }
    if (redirectUri === undefined && (this.#options.clientCredentials || this.#options.assertion)) {
      throw new AuthorizationError(
        "ERR_REGISTRATION_UNAVAILABLE",
        `Machine grants need a client registered with ${target.issuer} in advance (the client option)`,
      );
    }
    const record = await this.#record(target.issuer);
    const stored = record?.client;
    const secretExpired =
      stored?.secretExpiresAt !== undefined &&
      stored.secretExpiresAt !== 0 &&
      stored.secretExpiresAt <= now();
    if (
      stored &&
      !secretExpired &&
      (redirectUri === undefined ||
        stored.source === "metadata-document" ||
        sameRedirect(stored.redirectUri, redirectUri))
    ) {
      return this.#fromStored(stored);
    }
    if (redirectUri === undefined) {
      throw new AuthorizationError(
        "ERR_REGISTRATION_UNAVAILABLE",
        `No client is registered with ${target.issuer}`,
      );
    }
    let client: StoredClient;
    const documentUrl = this.#options.clientMetadataUrl;
    if (documentUrl !== undefined && as.client_id_metadata_document_supported === true) {
      client = { clientId: documentUrl, authMethod: "none", source: "metadata-document" };
    } else if (typeof as.registration_endpoint === "string") {
      client = await this.#register(target, redirectUri);
    } else {
      throw new AuthorizationError(
        "ERR_REGISTRATION_UNAVAILABLE",
        `${target.issuer} offers neither dynamic client registration nor client ID metadata documents${documentUrl === undefined ? "" : " (or does not advertise them)"}; give the authorizer a pre-registered client`,
      );
    }
    const updated = (await this.#record(target.issuer)) ?? {};
    updated.client = client;
    await this.#store.set(target.issuer, updated);
    return this.#fromStored(client);
  }

  #fromStored(stored: StoredClient): { client: oauth.Client; auth: oauth.ClientAuth } {
    return {
      client: { client_id: stored.clientId, token_endpoint_auth_method: stored.authMethod },
      auth: this.#clientAuth(stored.authMethod, stored.clientSecret, undefined),
    };
  }

  #secretMethod(as: oauth.AuthorizationServer, given: PreRegisteredClient): ClientAuthMethod {
    if (given.privateKey) return "private_key_jwt";
    if (given.clientSecret === undefined) return "none";
    const supported = as.token_endpoint_auth_methods_supported;
    if (!supported || supported.includes("client_secret_basic")) return "client_secret_basic";
    if (supported.includes("client_secret_post")) return "client_secret_post";
    return "client_secret_basic";
  }

  #clientAuth(
    method: ClientAuthMethod,
    secret: string | undefined,
    key: PreRegisteredClient["privateKey"],
  ): oauth.ClientAuth {
    switch (method) {
      case "client_secret_basic":
      case "client_secret_post":
        if (secret === undefined) {
          throw new AuthorizationError(
            "ERR_REGISTRATION_FAILED",
            `The client authenticates with ${method} but has no secret`,
          );
        }
        return method === "client_secret_basic"
          ? clientSecretBasic(secret)
          : oauth.ClientSecretPost(secret);
      case "private_key_jwt":
        if (key === undefined) {
          throw new AuthorizationError(
            "ERR_REGISTRATION_FAILED",
            "The client authenticates with private_key_jwt but has no private key",
          );
        }
        return oauth.PrivateKeyJwt(key);
      default:
        return oauth.None();
    }
  }

  /** RFC 7591 registration as a public native client when the server allows, else with a secret. */
  async #register(target: Target, redirectUri: string): Promise<StoredClient> {
    const supported = target.as.token_endpoint_auth_methods_supported;
    const requested: ClientAuthMethod =
      !supported || supported.includes("none")
        ? "none"
        : supported.includes("client_secret_basic")
          ? "client_secret_basic"
          : supported.includes("client_secret_post")
            ? "client_secret_post"
            : "none";
    const metadata: Record<string, unknown> = {
      client_name: "Portcullis MCP client",
      ...this.#options.clientMetadata,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: requested,
      application_type: isNativeRedirect(redirectUri) ? "native" : "web",
    };
    // Read by hand rather than by oauth4webapi: servers often omit client_secret_expires_at
    // (RFC 7591 requires it with a secret), and "never expires" is the safe reading.
    const endpoint = String(target.as.registration_endpoint);
    const response = await guardedFetch(this.#fetchPolicy, endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(metadata),
    });
    const body: unknown = await response.json().catch(async (error: unknown) => {
      throw (
        findAuthorizationError(error) ??
        new AuthorizationError(
          "ERR_REGISTRATION_FAILED",
          `Registration with ${target.issuer} answered HTTP ${response.status} without JSON`,
          { cause: error },
        )
      );
    });
    const registered =
      body && typeof body === "object" && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : {};
    if (response.status !== 201 && response.status !== 200) {
      const code = typeof registered.error === "string" ? registered.error : undefined;
      const said =
        typeof registered.error_description === "string" ? `: ${registered.error_description}` : "";
      throw new AuthorizationError(
        "ERR_REGISTRATION_FAILED",
        `Registration with ${target.issuer} was refused (HTTP ${response.status}${code ? `, ${code}` : ""})${said}`,
        { oauthError: code },
      );
    }
    if (typeof registered.client_id !== "string" || registered.client_id === "") {
      throw new AuthorizationError(
        "ERR_REGISTRATION_FAILED",
        `Registration with ${target.issuer} returned no client_id`,
      );
    }
    const secret =
      typeof registered.client_secret === "string" ? registered.client_secret : undefined;
    let method = (
      typeof registered.token_endpoint_auth_method === "string"
        ? registered.token_endpoint_auth_method
        : requested
    ) as ClientAuthMethod;
    // A secret method without a secret cannot work; a public client it is. (A secret the
    // server hands a client registered as public goes unused.)
    if (secret === undefined && method !== "private_key_jwt") method = "none";
    const client: StoredClient = {
      clientId: registered.client_id,
      authMethod: method,
      redirectUri,
      source: "registration",
    };
    if (secret !== undefined) client.clientSecret = secret;
    const expires = registered.client_secret_expires_at;
    if (typeof expires === "number" && expires > 0) client.secretExpiresAt = expires;
    return client;
  }

  // HTTP

  /** oauth4webapi's request options: our guarded fetch, and a resource indicator. */
  #http(
    extra?: Record<string, string>,
  ): oauth.TokenEndpointRequestOptions & oauth.DynamicClientRegistrationRequestOptions {
    const policy = this.#fetchPolicy;
    // One function for every request shape oauth4webapi makes (form bodies and JSON ones).
    const fetcher = (
      url: string,
      init: oauth.CustomFetchOptions<string, URLSearchParams | string | undefined>,
    ) => guardedFetch(policy, url, init as RequestInit);
    const options: oauth.TokenEndpointRequestOptions &
      oauth.DynamicClientRegistrationRequestOptions = {
      [oauth.customFetch]: fetcher,
      // The guarded fetch itself allows http only to loopback, and only when told to.
      [oauth.allowInsecureRequests]: policy.allowLoopback,
    };
    if (extra) options.additionalParameters = extra;
    return options;
  }

  async #tokenError(error: unknown, what: string): Promise<AuthorizationError> {
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
}
