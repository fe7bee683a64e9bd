/**
 * Which client id to use with an authorization server: the pre-registered client, one kept
 * from earlier, the Client ID Metadata Document URL (CIMD), or a new dynamic registration (DCR).
 */
import * as oauth from "oauth4webapi";
import { isLoopbackHost } from "../../util/loopback.ts";
import type { Target } from "./discovery.ts";
import { AuthorizationError, findAuthorizationError } from "./errors.ts";
import { type FetchPolicy, guardedFetch } from "./fetch.ts";
import type { OAuthAuthorizerOptions, PreRegisteredClient } from "./options.ts";
import type { ClientAuthMethod, StoredClient, TokenStore } from "./store.ts";
import { nowSeconds } from "./token-cache.ts";

/** What finding a client id takes. */
export interface ClientSource {
  target: Target;
  options: OAuthAuthorizerOptions;
  store: TokenStore;
  policy: FetchPolicy;
}

/** A client id with the way it authenticates at the token endpoint, as oauth4webapi takes them. */
export interface ClientCredentials {
  client: oauth.Client;
  auth: oauth.ClientAuth;
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
 * The client to use with an authorization server: the pre-registered one, else the one
 * kept from earlier, else the metadata document URL, else a new dynamic registration.
 * `redirectUri` is the flow's redirect URI (undefined for grants without one).
 */
export async function clientFor(
  source: ClientSource,
  redirectUri: string | undefined,
): Promise<ClientCredentials> {
  const { target, options, store } = source;
  const as = target.as;
  const given = options.client;
  if (given && (given.issuer === undefined || given.issuer === target.issuer)) {
    const method = given.authMethod ?? secretMethod(as, given);
    return {
      client: { client_id: given.clientId, token_endpoint_auth_method: method },
      auth: clientAuth(method, given.clientSecret, given.privateKey),
    };
  }
  if (redirectUri === undefined && (options.clientCredentials || options.assertion)) {
    throw new AuthorizationError(
      "ERR_REGISTRATION_UNAVAILABLE",
      `Machine grants need a client registered with ${target.issuer} in advance (the client option)`,
    );
  }
  const record = await store.get(target.issuer);
  const stored = record?.client;
  const secretExpired =
    stored?.secretExpiresAt !== undefined &&
    stored.secretExpiresAt !== 0 &&
    stored.secretExpiresAt <= nowSeconds();
  if (
    stored &&
    !secretExpired &&
    (redirectUri === undefined ||
      stored.source === "metadata-document" ||
      sameRedirect(stored.redirectUri, redirectUri))
  ) {
    return fromStored(stored);
  }
  if (redirectUri === undefined) {
    throw new AuthorizationError(
      "ERR_REGISTRATION_UNAVAILABLE",
      `No client is registered with ${target.issuer}`,
    );
  }
  let client: StoredClient;
  const documentUrl = options.clientMetadataUrl;
  if (documentUrl !== undefined && as.client_id_metadata_document_supported === true) {
    client = { clientId: documentUrl, authMethod: "none", source: "metadata-document" };
  } else if (typeof as.registration_endpoint === "string") {
    client = await register(source, redirectUri);
  } else {
    throw new AuthorizationError(
      "ERR_REGISTRATION_UNAVAILABLE",
      `${target.issuer} offers neither dynamic client registration nor client ID metadata documents${documentUrl === undefined ? "" : " (or does not advertise them)"}; give the authorizer a pre-registered client`,
    );
  }
  const updated = (await store.get(target.issuer)) ?? {};
  updated.client = client;
  await store.set(target.issuer, updated);
  return fromStored(client);
}

function fromStored(stored: StoredClient): ClientCredentials {
  return {
    client: { client_id: stored.clientId, token_endpoint_auth_method: stored.authMethod },
    auth: clientAuth(stored.authMethod, stored.clientSecret, undefined),
  };
}

function secretMethod(as: oauth.AuthorizationServer, given: PreRegisteredClient): ClientAuthMethod {
  if (given.privateKey) return "private_key_jwt";
  if (given.clientSecret === undefined) return "none";
  const supported = as.token_endpoint_auth_methods_supported;
  if (!supported || supported.includes("client_secret_basic")) return "client_secret_basic";
  if (supported.includes("client_secret_post")) return "client_secret_post";
  return "client_secret_basic";
}

function clientAuth(
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
async function register(source: ClientSource, redirectUri: string): Promise<StoredClient> {
  const { target, options } = source;
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
    ...options.clientMetadata,
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: requested,
    application_type: isNativeRedirect(redirectUri) ? "native" : "web",
  };
  // Read by hand rather than by oauth4webapi: servers often omit client_secret_expires_at
  // (RFC 7591 requires it with a secret), and "never expires" is the safe reading.
  const endpoint = String(target.as.registration_endpoint);
  const response = await guardedFetch(source.policy, endpoint, {
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
