import type { Context } from "hono";
import type { JWK } from "jose";
import type { DpopOptions } from "../resource/dpop.ts";
import type { Bus } from "../storage/bus.ts";
import type { Store } from "../storage/store.ts";
import type { Clock } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";
import type { Sealer } from "../util/sealer.ts";
import type { OperatorApiOptions } from "./admin-options.ts";
import type { AuditRecord, AuditSink } from "./audit-events.ts";
import type { Client, ClientRegistry, ConfiguredClient } from "./clients.ts";
import type { DpopCheckers } from "./dpop.ts";
import type { GrantLedger } from "./grants.ts";
import type { IdentityAssertionOptions } from "./identity-assertion-options.ts";
import type { SigningAlgorithm } from "./keys.ts";
import type { TokenLifetimes } from "./lifetimes.ts";
import type { LoginProvider } from "./login.ts";
import type { MetadataDocumentOptions } from "./metadata-document.ts";
import type { DEFAULT_RATE_LIMITS, RateLimitOptions } from "./rate-limit.ts";
import type { TokenExchangeOptions } from "./token-exchange-options.ts";
import type { TokenService } from "./tokens.ts";
import type { UpstreamTokens } from "./upstream-tokens.ts";
import type { WorkloadIdentityOptions } from "./workload-identity-options.ts";

export interface AuthorizationServerOptions {
  store: Store;
  login: LoginProvider;
  /** The issuer URL. Default: the origin of each request (fine on one host; set it in production). */
  issuer?: string;
  /** Trust X-Forwarded-For / -Proto / -Host from a reverse proxy. Default false. */
  trustProxy?: boolean;
  /** Scopes clients may request (published as scopes_supported). Empty: any. */
  scopes?: readonly string[];
  /** Scopes granted when a client asks for none. Default none. */
  defaultScopes?: readonly string[];
  /** Resource indicators (canonical URIs) tokens may be issued for. Empty: any. */
  resources?: readonly string[];
  /**
   * Clients known in advance. Only these may use client_credentials (list it in their
   * `grant_types`), and only for the scopes in their `scope`; only these may introspect
   * tokens issued to other clients (`introspection`).
   */
  clients?: readonly ConfiguredClient[];
  /** Custom redirect URI schemes native clients may register, e.g. ["cursor", "vscode"]. */
  redirectSchemes?: readonly string[];
  /**
   * Dynamic client registration (RFC 7591). Default on. `unusedTtlSeconds`: how long a
   * registered client is kept until it completes a grant (default 86,400, a day; 0 keeps
   * them all); once it has, it is kept for good.
   */
  registration?: boolean | { secretTtlSeconds?: number; unusedTtlSeconds?: number };
  /** Client ID Metadata Documents. Default on. */
  metadataDocuments?: MetadataDocumentOptions | false;
  signing?: { alg?: SigningAlgorithm; keys?: readonly JWK[] };
  lifetimes?: Partial<TokenLifetimes>;
  /**
   * Signs cookies and seals secrets at rest; at least 32 characters. Default: a random one
   * kept in the Store, which is fine for one deployment but not a substitute for a secret.
   */
  secret?: string;
  /** Rate limits; on by default. */
  rateLimits?: RateLimitOptions | false;
  /** Remember consent per user, client and scope set. Default 30 days; 0 asks every time. */
  rememberConsentDays?: number;
  /** How long a login lasts at the authorization server. Default 12 hours. */
  loginTtlSeconds?: number;
  /**
   * Epoch milliseconds now, for token lifetimes, the refresh grace, client registration
   * times, login cookies, signing-key overlap and rate-limit windows. Default Date.now.
   * (Entries still expire by the Store's own clock: give `memoryStore` the same one.)
   */
  clock?: Clock;
  /**
   * Shared by the instances of one deployment (the Bus of their `sessions`): a grant revoked on
   * one is refused by the others as soon as the message arrives. Without it, each instance
   * trusts its view of a grant for `revocationRecheckSeconds` before asking the Store again.
   */
  bus?: Bus;
  /**
   * Seconds an instance trusts its view that a grant is not revoked. Revocations made on the
   * instance itself apply at once. Default 5, or 60 with a `bus` (a safety net for lost messages).
   */
  revocationRecheckSeconds?: number;
  /** Verified access tokens each instance keeps (least recently used go first); 0: none. Default 10,000. */
  tokenCacheSize?: number;
  /** Where server errors, refused configurations and warnings go. Default: stderr. */
  logger?: Logger;
  /**
   * Receives an event for each registration, sign-in (succeeded or failed), consent (granted
   * or denied), code and token issued, refresh rotated or reused, revocation, client
   * credentials grant, token exchange, ID-JAG grant and rate limit hit (see `AuditEvent`). Never awaited: a failing or slow
   * sink holds up nothing, and its failures are logged. `jsonLinesAudit(write)` writes JSON lines.
   */
  audit?: AuditSink;
  /**
   * The page where a signed-in user sees the clients they approved and revokes them. Default
   * on, at "/connected-apps"; false turns it off.
   */
  connectedApps?: { path?: string } | false;
  /**
   * DPoP (RFC 9449). On by default: a token request with a valid proof gets tokens bound to its
   * key (`cnf.jkt`, token_type "DPoP"; a public client's refresh token too), and the built-in
   * resource server checks their proofs. Options set the proof algorithms, the `iat` window
   * and server nonces (`nonce: true` keys them with `secret`). False: the DPoP header is
   * ignored and every token is a Bearer token.
   */
  dpop?: DpopOptions | false;
  /**
   * The operator API (JSON) to list clients and grants, revoke grants and disable clients,
   * behind a credential you configure. Off unless given.
   */
  operatorApi?: OperatorApiOptions;
  /**
   * Token exchange (RFC 8693): a resource server trades a user's access token for one to
   * another resource, with the same scopes or fewer, recorded in `act`. Off unless given;
   * `allow` names which clients may exchange, for which audiences.
   */
  tokenExchange?: TokenExchangeOptions;
  /**
   * Enterprise-managed authorization (MCP ext-auth): the JWT bearer grant (RFC 7523) with an
   * Identity Assertion JWT Authorization Grant (ID-JAG) from an identity provider in `trust`.
   * Off unless given.
   */
  identityAssertion?: IdentityAssertionOptions;
  /**
   * Workload identity: machine clients authenticate with their platform's JWT (a Kubernetes
   * service-account token, a CI OIDC token) as `client_assertion` (RFC 7523 §2.2), each
   * issuer's subjects mapped to clients that may use client_credentials. Off unless given.
   */
  workloadIdentity?: WorkloadIdentityOptions;
}

/**
 * What the authorize and token endpoints need from the authorization server, declared here so
 * that they depend on it and not on the class that mounts them (AuthorizationServer).
 */
export interface AuthorizationCore {
  readonly options: AuthorizationServerOptions;
  readonly store: Store;
  readonly tokens: TokenService;
  readonly clients: ClientRegistry;
  /** Users' grants by subject, and which clients are disabled. */
  readonly grants: GrantLedger;
  /** The DPoP proof checkers of the token endpoint and the resources; absent with `dpop: false`. */
  readonly dpopCheckers: DpopCheckers | undefined;
  /** Epoch ms now: `options.clock`, or Date.now. */
  readonly clock: Clock;
  /** Users' upstream tokens, when the login provider keeps them. */
  readonly upstream: UpstreamTokens | undefined;
  /** The issuer for a request: configured, or the request's origin. */
  issuer(c: Context): string;
  secret(): Promise<string>;
  sealer(): Promise<Sealer>;
  /** Finds a client: registered or configured, else a metadata document URL. */
  client(clientId: string): Promise<Client | undefined>;
  /** Resolves the audience for a request's `resource` parameter, or throws invalid_target. */
  audience(resource: string | undefined, issuer: string): string;
  /** Checks requested scopes and returns the granted scope string. */
  grantScope(requested: string | undefined | null, client: Client): string;
  rateLimit(c: Context, bucket: keyof typeof DEFAULT_RATE_LIMITS): Promise<void>;
  /** Reports an audit event of this request to the `audit` sink, if there is one. */
  audit(c: Context, record: AuditRecord): void;
}
