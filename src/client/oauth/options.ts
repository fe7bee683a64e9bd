/** What an OAuthAuthorizer is given: options, a pre-registered client, an assertion callback. */
import type { DiscoveryCache } from "./discovery-cache.ts";
import type { RedirectHandler } from "./redirect.ts";
import type { ClientAuthMethod, TokenStore } from "./store.ts";

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
  /**
   * DPoP (RFC 9449): send a proof with every token request, and present DPoP-bound tokens with
   * a fresh proof on every request to the server, retrying once when either asks for a nonce.
   * `true` makes an ES256 key pair, kept with the tokens in the TokenStore so a refreshed or
   * reloaded session keeps its binding; or give your own key pair (then give it again after a
   * restart: a key that cannot be exported is not stored). An authorization server without
   * DPoP ignores the proof and issues Bearer tokens. Default false.
   */
  dpop?: boolean | CryptoKeyPair;
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
  /**
   * Where discovery results (resource and authorization server metadata) are kept between
   * authorizers, for as long as their Cache-Control allows (capped, 10 min by default). With
   * the server's discovery cached, a stored token goes out with the very first request.
   * Default: one cache for the whole process; `false` for none.
   */
  discovery?: DiscoveryCache | false;
}
