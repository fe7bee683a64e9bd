import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { Hono } from "hono/tiny";
import { correlationId } from "../http/request-id.ts";
import { requestLogger } from "../http/request-log.ts";
import type { AuthInfo } from "../mcp/peer.ts";
import { requestOrigin } from "../resource/bearer.ts";
import type { DpopVerifier } from "../resource/dpop.ts";
import { cacheSize } from "../resource/token-cache.ts";
import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { randomToken } from "../util/crypto.ts";
import { exposureOf } from "../util/exposure.ts";
import { type Logger, resolveLogger } from "../util/log.ts";
import { canonicalResource } from "../util/resource-uri.ts";
import { Sealer } from "../util/sealer.ts";
import { accountRoutes, DEFAULT_CONNECTED_APPS_PATH } from "./account.tsx";
import { operatorRoutes } from "./admin.ts";
import { AuditTrail } from "./audit.ts";
import type { AuditRecord } from "./audit-events.ts";
import { authorizeRoutes } from "./authorize.tsx";
import {
  type Client,
  ClientRegistry,
  configuredClient,
  type RegistrationRules,
} from "./clients.ts";
import type { AuthorizationCore, AuthorizationServerOptions } from "./core.ts";
import { discoveryRoutes, registrationRoutes } from "./discovery.ts";
import { type DpopCheckers, dpopCheckers } from "./dpop.ts";
import { errorReply, OAuthError } from "./errors.ts";
import { GrantLedger } from "./grants.ts";
import { KeyRing } from "./keys.ts";
import { resolveLifetimes } from "./lifetimes.ts";
import type { Deployment } from "./login.ts";
import { isMetadataDocumentUrl, resolveMetadataDocument } from "./metadata-document.ts";
import { checkOptions } from "./options.ts";
import { ownPaths } from "./own-paths.ts";
import {
  clientAddress,
  DEFAULT_RATE_LIMITS,
  enforceRateLimit,
  type RateLimit,
} from "./rate-limit.ts";
import { ResourceTokenVerifier } from "./resource-tokens.ts";
import { tokenRoutes } from "./token.ts";
import { TokenService } from "./tokens.ts";
import { UpstreamTokens } from "./upstream-tokens.ts";

/**
 * The built-in OAuth 2.1 authorization server: metadata, registration, authorize with
 * login and consent, token, revocation, introspection and keys, as one Hono app to mount
 * at the root of the issuer.
 */
export class AuthorizationServer implements AuthorizationCore {
  readonly options: AuthorizationServerOptions;
  readonly store: Store;
  readonly keys: KeyRing;
  readonly tokens: TokenService;
  readonly clients: ClientRegistry;
  readonly grants: GrantLedger;
  readonly clock: Clock;
  readonly dpopCheckers: DpopCheckers | undefined;
  readonly upstream: UpstreamTokens | undefined;
  readonly #resourceTokens: ResourceTokenVerifier;
  readonly #audit: AuditTrail;
  /** The configured issuer without trailing slashes, computed once. */
  readonly #issuer: string | undefined;
  /** Absolute resource URIs, and paths under the issuer's origin when the issuer follows requests. */
  readonly resources = new Set<string>();
  readonly resourcePaths = new Set<string>();
  readonly scopes = new Set<string>();
  readonly app: Hono;
  #secret: Promise<string> | undefined;
  #sealer: Promise<Sealer> | undefined;
  #ready: Promise<void> | undefined;
  readonly logger: Logger;
  /** Whether the login provider's refusal to run here was logged in full already. */
  #refusalLogged = false;
  /** What `use` added: run around every request this server answers, outermost first. */
  readonly #around: MiddlewareHandler[] = [];

  constructor(options: AuthorizationServerOptions) {
    this.logger = resolveLogger(options?.logger);
    checkOptions(options, this.logger);
    this.options = options;
    this.#issuer = options.issuer?.replace(/\/+$/, "");
    // Fail at startup where the answer is known already: a public issuer, or a proxy in front.
    if (options.issuer !== undefined || options.trustProxy)
      options.login.check?.(this.#deployment());
    // Configured clients are checked now, so a mistake fails here and not at the first request.
    for (const client of options.clients ?? []) configuredClient(client, this.registrationRules());
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.#audit = new AuditTrail(options.audit, this.clock, this.logger);
    this.clients = new ClientRegistry(options.store, this.clock);
    const lifetimes = resolveLifetimes(options.lifetimes);
    this.keys = new KeyRing({
      store: options.store,
      ...(options.signing?.alg ? { alg: options.signing.alg } : {}),
      ...(options.signing?.keys ? { keys: options.signing.keys } : {}),
      overlapMs: lifetimes.accessToken * 1000,
      clock: this.clock,
    });
    this.tokens = new TokenService(options.store, this.keys, options.lifetimes, {
      secret: () => this.secret(),
      clock: this.clock,
      ...(options.bus ? { bus: options.bus } : {}),
      ...(options.revocationRecheckSeconds !== undefined
        ? { revocationRecheckMs: options.revocationRecheckSeconds * 1000 }
        : {}),
      // A revoked grant takes the user's upstream tokens with it.
      onGrantRevoked: (_gid, subject) =>
        subject === undefined ? undefined : this.upstream?.discard(subject),
    });
    const source = options.login.upstream;
    this.upstream = source
      ? new UpstreamTokens({
          store: options.store,
          sealer: () => this.sealer(),
          source,
          clock: this.clock,
          logger: this.logger,
          revokeGrant: (gid, subject) => this.tokens.revokeGrant(gid, subject),
        })
      : undefined;
    this.grants = new GrantLedger({ store: options.store, tokens: this.tokens, clock: this.clock });
    this.#resourceTokens = new ResourceTokenVerifier(this.tokens, {
      clock: this.clock,
      upstream: this.upstream,
      cacheSize: cacheSize(options.tokenCacheSize, "tokenCacheSize"),
    });
    this.dpopCheckers = dpopCheckers(options.dpop, options.store, this.clock, () => this.secret());
    for (const resource of options.resources ?? []) this.addResource(resource);
    for (const scope of options.scopes ?? []) this.scopes.add(scope);
    this.app = this.#routes();
  }

  /**
   * Registers a resource this server issues tokens for: an absolute URI, or a path on the
   * issuer's own origin (mcpApp registers its endpoint this way).
   */
  addResource(resource: string): void {
    if (resource.startsWith("/")) {
      this.resourcePaths.add(resource.replace(/\/+$/, "") || "/");
      return;
    }
    const canonical = canonicalResource(resource);
    if (!canonical) throw new TypeError(`Not a valid resource URI: ${resource}`);
    this.resources.add(canonical);
  }

  /**
   * Where this server runs, from its configuration and its runtime (see `exposureOf`), never
   * from a request header. A trusted proxy in front means the network can reach it.
   */
  #deployment(c?: Context): Deployment {
    const exposure = this.options.trustProxy ? "network" : c ? exposureOf(c.env) : "unknown";
    return this.options.issuer === undefined
      ? { exposure }
      : { issuer: this.options.issuer, exposure };
  }

  /** Checks the proofs of DPoP-bound tokens at the resources (see `protectEndpoint`). */
  get dpop(): DpopVerifier | undefined {
    return this.dpopCheckers?.resource;
  }

  /** The issuer for a request: configured, or the request's origin. */
  issuer(c: Context): string {
    if (this.#issuer) return this.#issuer;
    if (!this.options.trustProxy) return requestOrigin(c);
    const url = new URL(c.req.url);
    if (this.options.trustProxy) {
      const proto = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim();
      const host = c.req.header("x-forwarded-host")?.split(",")[0]?.trim();
      if (proto) url.protocol = `${proto}:`;
      if (host) url.host = host;
    }
    return url.origin;
  }

  secret(): Promise<string> {
    this.#secret ??= (async () => {
      if (this.options.secret) return this.options.secret;
      await this.store.add("as:secret", randomToken(32));
      return (await this.store.get<string>("as:secret"))!;
    })().catch((error: unknown) => {
      // A Store that was down must not stay "down" here once it is back: try again next time.
      this.#secret = undefined;
      throw error;
    });
    return this.#secret;
  }

  sealer(): Promise<Sealer> {
    this.#sealer ??= this.secret()
      .then((secret) => new Sealer(secret, "portcullis upstream tokens"))
      .catch((error: unknown) => {
        this.#sealer = undefined;
        throw error;
      });
    return this.#sealer;
  }

  /** Finds a client: registered or configured, else a metadata document URL. */
  async client(clientId: string): Promise<Client | undefined> {
    const known = await this.clients.get(clientId);
    if (known) return known;
    const documents = this.options.metadataDocuments;
    if (documents === false || documents?.enabled === false || !isMetadataDocumentUrl(clientId))
      return undefined;
    return resolveMetadataDocument(clientId, this.store, this.registrationRules(), documents ?? {});
  }

  registrationRules(): RegistrationRules {
    const registration = this.options.registration;
    const rules: RegistrationRules = { allowedSchemes: this.options.redirectSchemes ?? [] };
    if (typeof registration === "object") {
      if (registration.secretTtlSeconds !== undefined)
        rules.secretTtlSeconds = registration.secretTtlSeconds;
      if (registration.unusedTtlSeconds !== undefined)
        rules.unusedTtlSeconds = registration.unusedTtlSeconds;
    }
    return rules;
  }

  /** Resolves the audience for a request's `resource` parameter, or throws invalid_target. */
  audience(resource: string | undefined, issuer: string): string {
    const origin = new URL(issuer).origin;
    const allowed = new Set(this.resources);
    for (const path of this.resourcePaths) allowed.add(canonicalResource(`${origin}${path}`)!);
    if (resource === undefined) {
      if (allowed.size === 1) return [...allowed][0]!;
      if (allowed.size === 0) return issuer;
      throw new OAuthError(
        "invalid_target",
        "Name the resource you want a token for (resource parameter)",
      );
    }
    const canonical = canonicalResource(resource);
    if (!canonical)
      throw new OAuthError("invalid_target", "The resource parameter is not a valid absolute URI");
    if (allowed.size && !allowed.has(canonical)) {
      throw new OAuthError("invalid_target", "This server does not issue tokens for that resource");
    }
    return canonical;
  }

  /** Checks requested scopes and returns the granted scope string. */
  grantScope(requested: string | undefined | null, client: Client): string {
    const asked = (requested ?? client.scope ?? (this.options.defaultScopes ?? []).join(" "))
      .split(" ")
      .filter(Boolean);
    const unknown = this.scopes.size
      ? asked.filter((scope) => !this.scopes.has(scope) && scope !== "offline_access")
      : [];
    if (unknown.length)
      throw new OAuthError("invalid_scope", `Unknown scope: ${unknown.join(" ")}`);
    return [...new Set(asked)].join(" ");
  }

  async rateLimit(c: Context, bucket: keyof typeof DEFAULT_RATE_LIMITS): Promise<void> {
    const limits = this.options.rateLimits;
    if (limits === false) return;
    const rule: RateLimit = limits?.[bucket] ?? DEFAULT_RATE_LIMITS[bucket];
    const key = limits?.key ? limits.key(c) : clientAddress(c, this.options.trustProxy ?? false);
    try {
      await enforceRateLimit(this.store, bucket, key, rule, this.clock);
    } catch (error) {
      if (error instanceof OAuthError && error.status === 429) {
        const retryAfterSeconds = Number(error.headers["Retry-After"]);
        this.audit(c, { type: "rate_limit.hit", bucket, retryAfterSeconds });
      }
      throw error;
    }
  }

  audit(c: Context, record: AuditRecord): void {
    this.#audit.emit(c, record);
  }

  /**
   * Verifies one of our access tokens for a resource; the caller (frozen), or undefined (then
   * `onReject` has been told why). Verified tokens are cached until they expire; revocation is
   * checked on every call.
   */
  verify(
    token: string,
    issuer: string,
    audience: string,
    onReject?: (reason: string) => void,
  ): Promise<AuthInfo | undefined> {
    return this.#resourceTokens.verify(token, issuer, audience, onReject);
  }

  /** Loads configured clients once, before the first request. */
  ready(): Promise<void> {
    this.#ready ??= this.clients
      .configure(this.options.clients ?? [], this.registrationRules())
      .catch((error: unknown) => {
        this.#ready = undefined;
        throw error;
      });
    return this.#ready;
  }

  /**
   * The login provider's per-request check (devLogin where the runtime does not say who can
   * reach it). Its first refusal is logged once, whole; later ones are 500s like any other.
   */
  #checkLogin(c: Context): void {
    try {
      this.options.login.check?.(this.#deployment(c));
    } catch (error) {
      if (!this.#refusalLogged) {
        this.#refusalLogged = true;
        this.logger.error(`login provider "${this.options.login.name}" refuses to run here`, {
          reason: error instanceof Error ? error.message : String(error),
        });
      }
      throw new OAuthError("server_error", "The server could not complete the request", {
        cause: error,
      });
    }
  }

  /**
   * Adds a Hono middleware around every request this server answers, before its own steps
   * (logging, rate limits, the endpoints): it sees each endpoint's final response, errors
   * already turned into OAuth error replies. For tracing and metrics.
   */
  use(middleware: MiddlewareHandler): this {
    this.#around.push(middleware);
    return this;
  }

  /** Runs what `use` added, then the rest; nothing at all when nothing was added. */
  #runAround: MiddlewareHandler = (c, next) => {
    const around = this.#around;
    if (around.length === 0) return next();
    const step = async (index: number): Promise<void> => {
      if (index === around.length) return next();
      await around[index]!(c, () => step(index + 1));
    };
    return step(0);
  };

  #routes(): Hono {
    const app = new Hono();
    app.onError((error, c) => errorReply(error, c, this.logger));
    const issuerPath = this.options.issuer
      ? new URL(this.options.issuer).pathname.replace(/\/+$/, "")
      : "";
    // Only on the server's own paths: mounted with app.route("/", ...) next to an MCP endpoint,
    // a catch-all step here would run on every /mcp request too (its log line, the login check).
    const logRequests = requestLogger(this.logger);
    const gate: MiddlewareHandler = async (c, next) => {
      await this.ready();
      this.#checkLogin(c);
      await next();
    };
    const requestId = correlationId();
    for (const path of ownPaths(issuerPath))
      app.use(path, this.#runAround, requestId, logRequests, gate);
    const open = cors({ origin: "*", allowMethods: ["GET", "POST", "OPTIONS"], maxAge: 86_400 });
    for (const path of ["/.well-known/*", "/token", "/register", "/revoke", "/introspect"])
      app.use(path, open);

    app.route(
      "/",
      discoveryRoutes(this, {
        issuerPath,
        scopes: () => [...this.scopes],
        jwks: () => this.keys.jwks(),
      }),
    );
    app.route(
      "/",
      registrationRoutes(this, () => this.registrationRules()),
    );

    const apps = this.options.connectedApps;
    const appsPath = apps === false ? undefined : (apps?.path ?? DEFAULT_CONNECTED_APPS_PATH);
    app.route("/", authorizeRoutes(this, appsPath ? [appsPath] : []));
    app.route("/", tokenRoutes(this));
    if (appsPath) app.route("/", accountRoutes(this, appsPath));
    if (this.options.operatorApi) app.route("/", operatorRoutes(this, this.options.operatorApi));
    return app;
  }
}

/** Creates the built-in authorization server; mount `.app` or pass it to `mcpApp({ auth })`. */
export function authorizationServer(options: AuthorizationServerOptions): AuthorizationServer {
  return new AuthorizationServer(options);
}
