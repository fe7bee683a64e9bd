import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from "jose";
import type { Store } from "../storage/store.ts";
import type { Clock } from "../util/clock.ts";
import { type SafeFetchOptions, safeFetchJson } from "../util/ssrf.ts";
import type { Client, ClientRegistry } from "./clients.ts";
import { OAuthError } from "./errors.ts";
import { workloadClient, workloadIssuerOf } from "./workload-identity.ts";
import type { WorkloadIdentityOptions } from "./workload-identity-options.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

export interface ClientAuthContext {
  registry: ClientRegistry;
  /** Resolves a client id that is not registered (metadata documents). */
  resolve: (clientId: string) => Promise<Client | undefined>;
  store: Store;
  issuer: string;
  tokenEndpoint: string;
  fetchOptions: SafeFetchOptions;
  clock: Clock;
  /** Workload issuers whose JWTs authenticate machine clients. */
  workloads?: WorkloadIdentityOptions | undefined;
}

function invalidClient(message: string, basic = false): OAuthError {
  return new OAuthError(
    "invalid_client",
    message,
    basic ? { headers: { "WWW-Authenticate": 'Basic realm="token"' } } : {},
  );
}

function decodeBasic(header: string): { id: string; secret: string } | undefined {
  if (!/^basic /i.test(header)) return undefined;
  let decoded: string;
  try {
    decoded = atob(header.slice(6).trim());
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: both halves are form-urlencoded first, so "+" is a space.
  const formDecode = (part: string) => decodeURIComponent(part.replaceAll("+", " "));
  try {
    return {
      id: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    return undefined;
  }
}

/**
 * Authenticates the client at the token, revocation and introspection endpoints by the one
 * method it presents: HTTP Basic, a secret in the body, a private_key_jwt assertion, or, for
 * public clients, its id alone. Presenting more than one method is an error.
 */
export async function authenticateClient(
  headers: Headers,
  form: URLSearchParams,
  context: ClientAuthContext,
): Promise<Client> {
  const authorization = headers.get("authorization");
  const basic = authorization ? decodeBasic(authorization) : undefined;
  if (authorization && !basic) throw invalidClient("Malformed Authorization header", true);
  const bodySecret = form.get("client_secret");
  const assertion = form.get("client_assertion");
  const presented = [basic, bodySecret, assertion].filter((v) => v !== undefined && v !== null);
  if (presented.length > 1) {
    throw new OAuthError("invalid_request", "Use exactly one client authentication method");
  }
  const bodyId = form.get("client_id");
  if (basic && bodyId !== null && bodyId !== basic.id) {
    throw new OAuthError("invalid_request", "client_id does not match the Authorization header");
  }

  if (assertion !== null) return assertionClient(assertion, form, context);
  const clientId = basic?.id ?? bodyId;
  if (!clientId) throw invalidClient("Client authentication is required");
  const client = (await context.registry.get(clientId)) ?? (await context.resolve(clientId));
  if (!client) throw invalidClient("Unknown client", basic !== undefined);
  const secret = basic?.secret ?? bodySecret;
  if (client.token_endpoint_auth_method === "none") {
    if (secret !== null) throw invalidClient("This client has no secret");
    return client;
  }
  if (client.token_endpoint_auth_method === "private_key_jwt") {
    throw invalidClient("This client must authenticate with private_key_jwt");
  }
  if (secret === null || !(await context.registry.secretMatches(client, secret))) {
    throw invalidClient("Client authentication failed", basic !== undefined);
  }
  return client;
}

async function assertionClient(
  assertion: string,
  form: URLSearchParams,
  context: ClientAuthContext,
): Promise<Client> {
  if (form.get("client_assertion_type") !== JWT_BEARER) {
    throw new OAuthError("invalid_request", "Unsupported client_assertion_type");
  }
  const workload = workloadIssuerOf(assertion, context.workloads);
  if (workload && context.workloads) {
    return workloadClient(assertion, workload, form, { ...context, options: context.workloads });
  }
  let clientId: unknown;
  try {
    // Only to find the client whose keys verify it; nothing is trusted before jwtVerify.
    clientId = decodeJwt(assertion).sub;
  } catch {
    throw invalidClient("Malformed client assertion");
  }
  if (typeof clientId !== "string") throw invalidClient("The client assertion has no subject");
  const client = (await context.registry.get(clientId)) ?? (await context.resolve(clientId));
  if (client?.token_endpoint_auth_method !== "private_key_jwt") {
    throw invalidClient("Unknown client or not a private_key_jwt client");
  }
  let jwks: JSONWebKeySet | undefined = client.jwks as JSONWebKeySet | undefined;
  let failure: unknown;
  if (!jwks && client.jwks_uri) {
    jwks = (
      await safeFetchJson(client.jwks_uri, context.fetchOptions).catch((error: unknown) => {
        failure = error;
        return { json: undefined };
      })
    ).json as JSONWebKeySet | undefined;
  }
  if (!jwks?.keys) {
    // The same answer whatever the fetch found; the detail stays on `cause`.
    throw new OAuthError("invalid_client", "The client's keys could not be loaded", {
      cause: failure,
    });
  }
  let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(jwks), {
      issuer: clientId,
      subject: clientId,
      audience: [context.tokenEndpoint, context.issuer],
      requiredClaims: ["exp", "jti"],
      maxTokenAge: "10 minutes",
      currentDate: new Date(context.clock()),
    }));
  } catch {
    throw invalidClient("The client assertion is not valid");
  }
  const ttlMs = Math.max(1000, (payload.exp! - Math.floor(context.clock() / 1000)) * 1000);
  if (!(await context.store.add(`as:assertion:${clientId}:${payload.jti}`, true, { ttlMs }))) {
    throw invalidClient("The client assertion was already used");
  }
  return client;
}
