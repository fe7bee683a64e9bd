import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { randomToken, sha256, timingSafeEqual } from "../util/crypto.ts";
import { canonicalResource } from "../util/resource-uri.ts";
import { OAuthError } from "./errors.ts";
import {
  boundedText,
  contactList,
  httpsUrl,
  METADATA_LIMITS,
  publicKeySet,
  scopeValue,
} from "./metadata-limits.ts";
import { type RedirectRules, redirectUriProblem } from "./redirect-uri.ts";

export type TokenEndpointAuthMethod =
  | "none"
  | "client_secret_basic"
  | "client_secret_post"
  | "private_key_jwt";

export const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  "none",
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
];

export const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"] as const;

/** A client as the server knows it. The secret is kept only as a hash. */
export interface Client {
  client_id: string;
  /** SHA-256 of the secret, for confidential clients with a shared secret. */
  secret_hash?: string;
  /** Unix seconds; 0 means the secret does not expire. */
  client_secret_expires_at?: number;
  client_id_issued_at?: number;
  redirect_uris: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  grant_types: string[];
  response_types: string[];
  application_type: "web" | "native";
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  scope?: string;
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  software_id?: string;
  software_version?: string;
  contacts?: string[];
  tos_uri?: string;
  policy_uri?: string;
  /**
   * Configured clients only: a resource server that may introspect (RFC 7662) access tokens
   * issued to other clients, for any audience (true) or for these canonical resource URIs.
   */
  introspection?: true | string[];
  /**
   * Registered clients only: Unix seconds when the registration lapses, unless the client
   * completes a grant first (then this goes, and so does the record's TTL).
   */
  registration_expires_at?: number;
  /** Where the record came from. */
  source: "registered" | "metadata-document" | "configured";
}

/** A client given in configuration; `client_secret` is hashed before it is kept. */
export type ConfiguredClient = Partial<
  Omit<Client, "secret_hash" | "source" | "registration_expires_at" | "introspection">
> & {
  client_id: string;
  redirect_uris: string[];
  client_secret?: string;
  /**
   * Makes this client a resource server that may introspect access tokens issued to other
   * clients: of any audience (true), or of these resource URIs. Default: only its own tokens.
   */
  introspection?: true | readonly string[];
};

export interface RegistrationRules extends RedirectRules {
  /** Lifetime of issued client secrets; 0 for secrets that never expire. Default 0. */
  secretTtlSeconds?: number;
  /**
   * Seconds a registered client is kept until it completes a grant (a code exchanged for
   * tokens); after one it is kept for good. 0 keeps every registration. Default 86,400.
   */
  unusedTtlSeconds?: number;
  /** Whether the client_credentials grant may be asked for: for configured clients only. */
  clientCredentials?: boolean;
}

/** How long a registered client that never completes a grant is kept, by default: a day. */
export const DEFAULT_UNUSED_TTL_SECONDS = 86_400;

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new OAuthError("invalid_client_metadata", `${field} must be an array of strings`);
  }
  return value;
}

/** Checks client metadata (RFC 7591 §2) and returns the record to keep, without id or secret. */
export function validateClientMetadata(
  body: unknown,
  rules: RegistrationRules,
): Omit<Client, "client_id" | "source"> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new OAuthError("invalid_client_metadata", "The body must be a JSON object");
  }
  const meta = body as Record<string, unknown>;
  const redirectUris = stringList(meta.redirect_uris, "redirect_uris") ?? [];
  // Only known values pass below, so without repeats these lists stay a few entries long.
  const grantTypes = [
    ...new Set(
      stringList(meta.grant_types, "grant_types") ?? ["authorization_code", "refresh_token"],
    ),
  ];
  const responseTypes = [...new Set(stringList(meta.response_types, "response_types") ?? ["code"])];
  const method = (meta.token_endpoint_auth_method ??
    "client_secret_basic") as TokenEndpointAuthMethod;
  if (!AUTH_METHODS.includes(method)) {
    throw new OAuthError(
      "invalid_client_metadata",
      `Unsupported token_endpoint_auth_method ${String(method)}`,
    );
  }
  for (const grant of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) {
      throw new OAuthError("invalid_client_metadata", `Unsupported grant type ${grant}`);
    }
  }
  if (responseTypes.some((type) => type !== "code")) {
    throw new OAuthError("invalid_client_metadata", "Only the code response type is supported");
  }
  if (grantTypes.includes("authorization_code") && redirectUris.length === 0) {
    throw new OAuthError(
      "invalid_redirect_uri",
      "redirect_uris is required for authorization_code",
    );
  }
  if (grantTypes.includes("client_credentials") && !rules.clientCredentials) {
    // Tokens without a user are for clients the operator set up, with scopes chosen for them.
    throw new OAuthError(
      "invalid_client_metadata",
      "client_credentials is only for clients the server's operator configures",
    );
  }
  if (grantTypes.includes("client_credentials") && method === "none") {
    throw new OAuthError(
      "invalid_client_metadata",
      "client_credentials needs an authenticated client",
    );
  }
  if (redirectUris.length > METADATA_LIMITS.redirectUris) {
    throw new OAuthError(
      "invalid_redirect_uri",
      `A client may register at most ${METADATA_LIMITS.redirectUris} redirect URIs`,
    );
  }
  for (const uri of redirectUris) {
    if (uri.length > METADATA_LIMITS.uriLength) {
      throw new OAuthError(
        "invalid_redirect_uri",
        `A redirect URI is longer than ${METADATA_LIMITS.uriLength} characters`,
      );
    }
    const problem = redirectUriProblem(uri, rules);
    if (problem) throw new OAuthError("invalid_redirect_uri", `Redirect URI ${uri} ${problem}`);
  }
  const applicationType = meta.application_type ?? "web";
  if (applicationType !== "web" && applicationType !== "native") {
    throw new OAuthError("invalid_client_metadata", "application_type must be web or native");
  }
  if (method === "private_key_jwt" && meta.jwks === undefined && meta.jwks_uri === undefined) {
    throw new OAuthError("invalid_client_metadata", "private_key_jwt needs jwks or jwks_uri");
  }
  if (meta.jwks !== undefined && meta.jwks_uri !== undefined) {
    throw new OAuthError("invalid_client_metadata", "Send jwks or jwks_uri, not both");
  }
  const record: Omit<Client, "client_id" | "source"> = {
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method,
    grant_types: grantTypes,
    response_types: responseTypes,
    application_type: applicationType,
  };
  const text = METADATA_LIMITS.textLength;
  const fields = {
    client_name: boundedText(meta.client_name, "client_name", text),
    software_id: boundedText(meta.software_id, "software_id", text),
    software_version: boundedText(meta.software_version, "software_version", text),
    client_uri: httpsUrl(meta.client_uri, "client_uri"),
    logo_uri: httpsUrl(meta.logo_uri, "logo_uri"),
    jwks_uri: httpsUrl(meta.jwks_uri, "jwks_uri"),
    tos_uri: httpsUrl(meta.tos_uri, "tos_uri"),
    policy_uri: httpsUrl(meta.policy_uri, "policy_uri"),
    scope: scopeValue(meta.scope),
    contacts: contactList(meta.contacts),
    jwks: meta.jwks === undefined ? undefined : publicKeySet(meta.jwks),
  };
  for (const [field, value] of Object.entries(fields)) {
    if (value !== undefined) Object.assign(record, { [field]: value });
  }
  return record;
}

/**
 * Checks a client from configuration and returns its record, the secret not yet hashed.
 * Mistakes throw a TypeError naming the client, when the server is constructed.
 */
export function configuredClient(
  given: ConfiguredClient,
  rules: RegistrationRules,
): { client: Client; secret?: string } {
  const { client_secret: secret, client_id: clientId, introspection, ...rest } = given;
  if (typeof clientId !== "string" || clientId === "") {
    throw new TypeError("Every configured client needs a client_id");
  }
  const fail = (message: string) => new TypeError(`Configured client ${clientId}: ${message}`);
  let metadata: Omit<Client, "client_id" | "source">;
  try {
    metadata = validateClientMetadata(
      { token_endpoint_auth_method: secret ? "client_secret_basic" : "none", ...rest },
      { ...rules, clientCredentials: true },
    );
  } catch (error) {
    throw error instanceof OAuthError ? fail(error.message) : error;
  }
  const client: Client = { ...metadata, client_id: clientId, source: "configured" };
  const method = client.token_endpoint_auth_method;
  const shared = method === "client_secret_basic" || method === "client_secret_post";
  if (shared !== (secret !== undefined)) {
    throw fail(shared ? `${method} needs a client_secret` : `${method} takes no client_secret`);
  }
  if (introspection !== undefined) {
    if (method === "none") throw fail("introspection needs a client that authenticates");
    if (introspection === true) client.introspection = true;
    else if (Array.isArray(introspection)) {
      client.introspection = introspection.map((resource: string) => {
        const canonical = canonicalResource(resource);
        if (!canonical) throw fail(`introspection names an invalid resource URI: ${resource}`);
        return canonical;
      });
    } else throw fail("introspection must be true or a list of resource URIs");
  }
  return secret === undefined ? { client } : { client, secret };
}

const clientKey = (id: string) => `as:client:${id}`;
/** The set of registered client ids, each member living as long as its client's record. */
const REGISTERED_INDEX = "as:clients";

/** Registered and configured clients, kept in the Store. */
export class ClientRegistry {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #configured = new Map<string, Client>();

  /** `clock`: epoch milliseconds now, for issue and expiry times. */
  constructor(store: Store, clock: Clock = systemClock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Adds clients from configuration, hashing their secrets. */
  async configure(clients: readonly ConfiguredClient[], rules: RegistrationRules): Promise<void> {
    for (const given of clients) {
      const { client, secret } = configuredClient(given, rules);
      if (secret !== undefined) client.secret_hash = await sha256(secret);
      this.#configured.set(client.client_id, client);
    }
  }

  async get(clientId: string): Promise<Client | undefined> {
    return this.#configured.get(clientId) ?? (await this.#store.get<Client>(clientKey(clientId)));
  }

  /**
   * Dynamic registration (RFC 7591): returns the stored client and, for confidential ones, the
   * secret. The record lapses after `unusedTtlSeconds` unless the client completes a grant.
   */
  async register(
    body: unknown,
    rules: RegistrationRules,
  ): Promise<{ client: Client; secret?: string }> {
    const metadata = validateClientMetadata(body, { ...rules, clientCredentials: false });
    const now = Math.floor(this.#clock() / 1000);
    const client: Client = {
      ...metadata,
      client_id: randomToken(16),
      client_id_issued_at: now,
      source: "registered",
    };
    let secret: string | undefined;
    if (
      client.token_endpoint_auth_method === "client_secret_basic" ||
      client.token_endpoint_auth_method === "client_secret_post"
    ) {
      secret = randomToken(32);
      client.secret_hash = await sha256(secret);
      const ttl = rules.secretTtlSeconds ?? 0;
      client.client_secret_expires_at = ttl > 0 ? now + ttl : 0;
    }
    const unused = rules.unusedTtlSeconds ?? DEFAULT_UNUSED_TTL_SECONDS;
    if (unused > 0) client.registration_expires_at = now + unused;
    const lapse = unused > 0 ? { ttlMs: unused * 1000 } : undefined;
    await this.#store.set(clientKey(client.client_id), client, lapse);
    await this.#store.addMember(REGISTERED_INDEX, client.client_id, lapse);
    return secret === undefined ? { client } : { client, secret };
  }

  /**
   * Keeps a registered client for good once it has completed a grant. Only the record as it
   * was read is replaced: a registration that lapsed meanwhile stays gone.
   */
  async confirm(client: Client): Promise<void> {
    if (client.source !== "registered" || client.registration_expires_at === undefined) return;
    const { registration_expires_at: _lapse, ...kept } = client;
    if (await this.#store.compareAndSet(clientKey(client.client_id), client, kept))
      await this.#store.addMember(REGISTERED_INDEX, client.client_id);
  }

  /** Every client known: configured ones, then registered ones (not metadata documents). */
  async list(): Promise<Client[]> {
    const registered = await Promise.all(
      (await this.#store.members(REGISTERED_INDEX)).map((id) => this.get(id)),
    );
    return [
      ...this.#configured.values(),
      ...registered.filter((client): client is Client => client !== undefined),
    ];
  }

  /** Whether a presented secret is this client's current one. */
  async secretMatches(client: Client, secret: string): Promise<boolean> {
    if (!client.secret_hash) return false;
    const expires = client.client_secret_expires_at ?? 0;
    if (expires !== 0 && expires < this.#clock() / 1000) return false;
    return timingSafeEqual(await sha256(secret), client.secret_hash);
  }
}

/** The public view of a client, as the registration endpoint returns it. */
export function clientInformation(client: Client, secret?: string): Record<string, unknown> {
  const {
    secret_hash: _hash,
    source: _source,
    registration_expires_at: _lapse,
    introspection: _introspection,
    ...info
  } = client;
  return secret === undefined ? info : { ...info, client_secret: secret };
}
