import type * as oauth from "oauth4webapi";
import { isLoopbackHost } from "../../util/loopback.ts";
import { canonicalResource } from "../../util/resource-uri.ts";
import type { Authorizer } from "../auth-seam.ts";
import { type BearerChallenge, dpopChallengeError, parseBearerChallenge } from "./challenge.ts";
import { authorizationCodeGrant } from "./code-grant.ts";
import { cachedTarget, discoverTarget, type Target, type TargetOptions } from "./discovery.ts";
import { type DiscoveryCache, processDiscoveryCache } from "./discovery-cache.ts";
import { DpopState } from "./dpop.ts";
import { AuthorizationError } from "./errors.ts";
import type { FetchPolicy } from "./fetch.ts";
import { clientCredentialsGrant, jwtBearerGrant } from "./grants.ts";
import type { OAuthAuthorizerOptions } from "./options.ts";
import { ScopeLedger } from "./scopes.ts";
import { sharedRefresh } from "./shared-refresh.ts";
import { memoryTokenStore, type StoredTokens } from "./store.ts";
import { TokenCache } from "./token-cache.ts";
import type { GrantContext } from "./token-endpoint.ts";

export type {
  AssertionContext,
  ClientMetadata,
  OAuthAuthorizerOptions,
  PreRegisteredClient,
} from "./options.ts";

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
  readonly #cache: TokenCache;
  /** Scopes asked for so far, and authorizations per scope set. */
  readonly #scopes = new ScopeLedger();
  /** Authorization server metadata, by issuer. */
  readonly #servers = new Map<string, oauth.AuthorizationServer>();
  #serverUrl: URL | undefined;
  #policy: FetchPolicy | undefined;
  #target: Target | undefined;
  /** The flow in progress: one at a time, and requests wait for it. */
  #busy: Promise<unknown> | undefined;
  /** Failed attempts to get tokens, and the last one's error: shared with the requests that waited for it. */
  #failures = 0;
  #lastFailure: unknown;
  /** The DPoP key and nonces, with the `dpop` option. */
  readonly #dpop: DpopState | undefined;
  readonly #discovery: DiscoveryCache | undefined;
  /** Whether the first request looked for stored tokens through the discovery cache. */
  #preloaded = false;

  constructor(options: OAuthAuthorizerOptions = {}) {
    this.#options = options;
    const dpop = options.dpop;
    this.#dpop = dpop ? new DpopState(dpop === true ? undefined : dpop) : undefined;
    this.#discovery =
      options.discovery === false ? undefined : (options.discovery ?? processDiscoveryCache);
    this.#cache = new TokenCache(
      options.tokens ?? memoryTokenStore(),
      options.refreshSkewSeconds ?? 60,
      (tokens) => this.#scopes.granted(tokens.scope),
      this.#dpop,
    );
    if (options.serverUrl !== undefined) this.#bindUrl(new URL(options.serverUrl));
  }

  /** The issuer and resource tokens currently come from and are for, once discovered. */
  get session(): { issuer: string; resource: string; scope?: string } | undefined {
    const target = this.#target;
    if (!target) return undefined;
    const scope = this.#cache.tokens?.scope;
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
  async headers(url?: string | URL, method = "POST"): Promise<Record<string, string>> {
    if (url !== undefined && this.#serverUrl !== undefined) {
      const to = canonicalResource(new URL(url).href);
      if (to !== canonicalResource(this.#serverUrl.href)) return {};
    }
    const failures = this.#failures;
    await this.#busy?.catch(() => undefined);
    this.#shareFailure(failures);
    const cache = this.#cache;
    if (!cache.tokens && !this.#preloaded) {
      this.#preloaded = true;
      const to = url === undefined ? this.#serverUrl : new URL(url);
      // Best effort: without it, the server's 401 takes the usual path.
      if (to) await this.#exclusive(() => this.#preload(to)).catch(() => undefined);
    }
    let tokens = cache.tokens;
    if (!tokens) return {};
    if (cache.expiring(tokens)) {
      if (tokens.refreshToken) {
        // A failed refresh is not fatal here: the request goes out as it can, and the 401
        // that follows takes the full path.
        await this.#exclusive(() => this.#refresh()).catch(() => undefined);
        tokens = cache.tokens;
      }
      if (tokens && cache.expired(tokens)) {
        cache.forget();
        return {};
      }
      if (!tokens) return {};
    }
    const token = cache.handOut(tokens);
    const to = url === undefined ? this.#serverUrl : new URL(url);
    if (tokens.tokenType !== "DPoP" || !this.#dpop || !to) {
      return { authorization: `Bearer ${token}` };
    }
    return { authorization: `DPoP ${token}`, dpop: await this.#dpop.proof(to, method, token) };
  }

  /** Keeps the DPoP nonce a server's reply carries, for the next proof (a 401's: onUnauthorized). */
  onResponse(response: Response): void {
    if (response.status === 401) return;
    const nonce = response.headers.get("dpop-nonce");
    if (this.#dpop && nonce && response.url) this.#dpop.rememberNonce(new URL(response.url), nonce);
  }

  async onUnauthorized(response: Response): Promise<boolean> {
    const header = response.headers.get("www-authenticate");
    const challenge = parseBearerChallenge(header);
    const serverUrl = this.#bind(response);
    // RFC 9449 §9: the token is fine, the proof lacked the nonce the server now gives. Sent
    // again once with it; the same nonce asked for twice goes the usual way.
    if (this.#dpop && dpopChallengeError(header) === "use_dpop_nonce") {
      if (this.#dpop.rememberNonce(serverUrl, response.headers.get("dpop-nonce"))) return true;
    }
    const cache = this.#cache;
    const held = cache.tokens;
    const handedOut = cache.uses > 0;
    const failures = this.#failures;
    return this.#exclusive(async () => {
      // Another request's 401 already replaced the token this one was sent with.
      if (cache.tokens && cache.tokens !== held) return true;
      this.#shareFailure(failures);
      const rejected = held && handedOut ? held : undefined;
      if (rejected) cache.reject(rejected);
      const target = await this.#discover(serverUrl, challenge, rejected !== undefined);
      if (rejected && cache.tokens === rejected) {
        if (cache.origin === "grant" && cache.uses <= 1) {
          throw new AuthorizationError(
            "ERR_TOKEN_REJECTED",
            `${serverUrl.href} refused the token ${target.issuer} has just issued for it`,
          );
        }
        // A token that was refreshed and at once refused will not be saved by refreshing again.
        const justRefreshed = cache.origin === "refresh" && cache.uses <= 1;
        if (rejected.refreshToken && !justRefreshed) {
          if (await this.#refresh().catch(() => false)) return true;
        }
        cache.forget();
      }
      // A token we hold but the failed request did not carry (it was sent before we had one).
      if (cache.tokens && !cache.isRejected(cache.tokens)) return true;
      cache.forget();
      const stored = await this.#loadable(target);
      if (stored && !cache.isRejected(stored) && cache.usable(stored)) {
        await this.#dpop?.adopt(stored.dpopKey);
        cache.use(stored, "store");
        if (cache.expiring(stored) && stored.refreshToken) {
          await this.#refresh().catch(() => undefined);
        }
        if (cache.tokens && cache.usable(cache.tokens)) return true;
        cache.forget();
      }
      const scopes = this.#scopes.forChallenge(
        challenge?.scope,
        target.scopesSupported,
        this.#options.scope,
      );
      await this.#obtain(target, scopes);
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
    const failures = this.#failures;
    return this.#exclusive(async () => {
      this.#shareFailure(failures);
      const target = this.#target ?? (await this.#discover(serverUrl, challenge));
      const held = this.#cache.tokens?.scope;
      const max = this.#options.maxStepUps ?? 3;
      await this.#obtain(target, this.#scopes.forStepUp(required, held, max, serverUrl));
      return true;
    });
  }

  /**
   * Before the first request: when discovery for this server is cached, a stored token for it
   * goes out at once, with no 401 and no metadata fetch first.
   */
  async #preload(url: URL): Promise<void> {
    if (this.#target || this.#cache.tokens) return;
    const target = await cachedTarget(url, this.#targetOptions());
    if (!target) return;
    const stored = await this.#loadable(target);
    if (!stored || this.#cache.isRejected(stored) || !this.#cache.usable(stored)) return;
    if (!this.#serverUrl) this.#bindUrl(url);
    this.#target = target;
    await this.#dpop?.adopt(stored.dpopKey);
    this.#cache.use(stored, "store");
  }

  #targetOptions(): TargetOptions {
    return {
      preferredIssuer: this.#options.client?.issuer,
      legacyDiscovery: this.#options.legacyDiscovery !== false,
      servers: this.#servers,
      cache: this.#discovery,
    };
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

  /** Discovers where tokens come from; another issuer or resource than before starts afresh. */
  async #discover(
    serverUrl: URL,
    challenge: BearerChallenge | undefined,
    fresh = false,
  ): Promise<Target> {
    const target = await discoverTarget(this.#fetchPolicy, serverUrl, challenge?.resourceMetadata, {
      ...this.#targetOptions(),
      fresh,
    });
    const previous = this.#target;
    if (previous && (previous.issuer !== target.issuer || previous.resource !== target.resource)) {
      // Another authorization server (or resource) now: nothing from the old one applies.
      this.#cache.forget();
      this.#scopes.clear();
    }
    this.#target = target;
    return target;
  }

  // Grants

  async #grantContext(target: Target): Promise<GrantContext> {
    const cache = this.#cache;
    const dpop = await this.#dpop?.handle();
    return {
      target,
      options: this.#options,
      store: cache.store,
      policy: this.#fetchPolicy,
      cache,
      dpop,
    };
  }

  /** Stored tokens this authorizer can present: a DPoP-bound one only with DPoP on. */
  async #loadable(target: Target): Promise<StoredTokens | undefined> {
    const stored = await this.#cache.stored(target);
    return stored?.tokenType === "DPoP" && !this.#dpop ? undefined : stored;
  }

  /**
   * Refreshes the tokens in use, under the store's lock when it has one; false when there is
   * nothing to refresh with.
   */
  async #refresh(): Promise<boolean> {
    const target = this.#target;
    const tokens = this.#cache.tokens;
    if (!target || !tokens) return false;
    return sharedRefresh(await this.#grantContext(target), tokens, async (stored) => {
      await this.#dpop?.adopt(stored.dpopKey);
      this.#cache.use(stored, "refresh");
    });
  }

  /** Gets new tokens for a scope set: the configured grant, or a person through the browser. */
  async #obtain(target: Target, scopes: Set<string>): Promise<void> {
    const scope = this.#scopes.authorizing(scopes) || undefined;
    const context = await this.#grantContext(target);
    try {
      if (this.#options.assertion) return await jwtBearerGrant(context, scope);
      if (this.#options.clientCredentials) return await clientCredentialsGrant(context, scope);
      return await authorizationCodeGrant(context, scopes);
    } catch (error) {
      this.#failures++;
      this.#lastFailure = error;
      throw error;
    }
  }

  /**
   * A request that waited while an attempt to get tokens failed fails with it, rather than
   * start another: one sign-in (one browser tab) for every request that hit 401 at once.
   */
  #shareFailure(failuresBefore: number): void {
    if (this.#failures > failuresBefore) throw this.#lastFailure;
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
}
