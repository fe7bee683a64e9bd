import type { Store } from "../storage/store.ts";
import { randomToken, sha256, timingSafeEqual } from "./crypto.ts";
import { OAuthError } from "./errors.ts";
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
  /** Where the record came from. */
  source: "registered" | "metadata-document" | "configured";
}

/** A client given in configuration; `client_secret` is hashed before it is kept. */
export type ConfiguredClient = Partial<Omit<Client, "secret_hash" | "source">> & {
  client_id: string;
  redirect_uris: string[];
  client_secret?: string;
};

export interface RegistrationRules extends RedirectRules {
  /** Lifetime of issued client secrets; 0 for secrets that never expire. Default 0. */
  secretTtlSeconds?: number;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new OAuthError("invalid_client_metadata", `${field} must be an array of strings`);
  }
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length > 2048) {
    throw new OAuthError("invalid_client_metadata", `${field} must be a string`);
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
  const grantTypes = stringList(meta.grant_types, "grant_types") ?? [
    "authorization_code",
    "refresh_token",
  ];
  const responseTypes = stringList(meta.response_types, "response_types") ?? ["code"];
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
  if (grantTypes.includes("client_credentials") && method === "none") {
    throw new OAuthError(
      "invalid_client_metadata",
      "client_credentials needs an authenticated client",
    );
  }
  for (const uri of redirectUris) {
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
  const record: Omit<Client, "client_id" | "source"> = {
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method,
    grant_types: grantTypes,
    response_types: responseTypes,
    application_type: applicationType,
  };
  for (const field of [
    "client_name",
    "client_uri",
    "logo_uri",
    "scope",
    "jwks_uri",
    "software_id",
    "software_version",
  ] as const) {
    const value = optionalString(meta, field);
    if (value !== undefined) record[field] = value;
  }
  for (const field of ["client_uri", "logo_uri", "jwks_uri"] as const) {
    const value = record[field];
    if (value !== undefined && !/^https:\/\//.test(value)) {
      throw new OAuthError("invalid_client_metadata", `${field} must be an https URL`);
    }
  }
  if (meta.jwks !== undefined) {
    const jwks = meta.jwks as { keys?: unknown };
    if (typeof jwks !== "object" || jwks === null || !Array.isArray(jwks.keys)) {
      throw new OAuthError("invalid_client_metadata", "jwks must be a JWK Set");
    }
    record.jwks = jwks as { keys: Record<string, unknown>[] };
  }
  return record;
}

const clientKey = (id: string) => `as:client:${id}`;

/** Registered and configured clients, kept in the Store. */
export class ClientRegistry {
  readonly #store: Store;
  readonly #configured = new Map<string, Client>();

  constructor(store: Store) {
    this.#store = store;
  }

  /** Adds clients from configuration, hashing their secrets. */
  async configure(clients: readonly ConfiguredClient[], rules: RegistrationRules): Promise<void> {
    for (const { client_secret, ...given } of clients) {
      const { client_id: _id, ...rest } = given;
      const metadata = validateClientMetadata(
        { token_endpoint_auth_method: client_secret ? "client_secret_basic" : "none", ...rest },
        rules,
      );
      const client: Client = { ...metadata, client_id: given.client_id, source: "configured" };
      if (client_secret) client.secret_hash = await sha256(client_secret);
      this.#configured.set(client.client_id, client);
    }
  }

  async get(clientId: string): Promise<Client | undefined> {
    return this.#configured.get(clientId) ?? (await this.#store.get<Client>(clientKey(clientId)));
  }

  /** Dynamic registration (RFC 7591): returns the stored client and, for confidential ones, the secret. */
  async register(
    body: unknown,
    rules: RegistrationRules,
  ): Promise<{ client: Client; secret?: string }> {
    const metadata = validateClientMetadata(body, rules);
    const now = Math.floor(Date.now() / 1000);
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
    await this.#store.set(clientKey(client.client_id), client);
    return secret === undefined ? { client } : { client, secret };
  }

  /** Whether a presented secret is this client's current one. */
  async secretMatches(client: Client, secret: string): Promise<boolean> {
    if (!client.secret_hash) return false;
    const expires = client.client_secret_expires_at ?? 0;
    if (expires !== 0 && expires < Date.now() / 1000) return false;
    return timingSafeEqual(await sha256(secret), client.secret_hash);
  }
}

/** The public view of a client, as the registration endpoint returns it. */
export function clientInformation(client: Client, secret?: string): Record<string, unknown> {
  const { secret_hash: _hash, source: _source, ...info } = client;
  return secret === undefined ? info : { ...info, client_secret: secret };
}
