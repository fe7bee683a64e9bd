import { decodeJwt, type JWTPayload } from "jose";
import type { Store } from "../storage/store.ts";
import type { Clock } from "../util/clock.ts";
import { sha256 } from "../util/crypto.ts";
import type { Client } from "./clients.ts";
import { OAuthError } from "./errors.ts";
import { IssuerKeys } from "./issuer-keys.ts";
import type { WorkloadIdentityOptions } from "./workload-identity-options.ts";

const DEFAULT_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"];
const keyCaches = new WeakMap<WorkloadIdentityOptions, IssuerKeys>();

const refused = (message: string, cause?: unknown) =>
  new OAuthError("invalid_client", message, cause === undefined ? {} : { cause });

/** The workload issuer an assertion names, if it is one (read before anything is verified). */
export function workloadIssuerOf(
  assertion: string,
  options: WorkloadIdentityOptions | undefined,
): string | undefined {
  if (!options) return undefined;
  let iss: unknown;
  try {
    iss = decodeJwt(assertion).iss;
  } catch {
    return undefined;
  }
  return options.issuers.some((entry) => entry.issuer === iss) ? (iss as string) : undefined;
}

/**
 * Authenticates a machine client by its workload's JWT (RFC 7523 §2.2): signed by the
 * issuer's keys, for our audience, unexpired and not too long-lived, from a subject the
 * operator mapped to a client, and (unless the issuer allows reuse) never seen before.
 */
export async function workloadClient(
  assertion: string,
  issuer: string,
  form: URLSearchParams,
  context: {
    options: WorkloadIdentityOptions;
    store: Store;
    clock: Clock;
    issuer: string;
    tokenEndpoint: string;
  },
): Promise<Client> {
  const { options, clock } = context;
  const entry = options.issuers.find((candidate) => candidate.issuer === issuer)!;
  let keys = keyCaches.get(options);
  if (!keys) {
    keys = new IssuerKeys(options, clock);
    keyCaches.set(options, keys);
  }
  const audience = entry.audience ?? [context.tokenEndpoint, context.issuer];
  let payload: JWTPayload;
  try {
    payload = await keys.verify(assertion, entry, {
      issuer: entry.issuer,
      audience,
      algorithms: [...(entry.algorithms ?? DEFAULT_ALGORITHMS)],
      requiredClaims: ["exp", "iat", "sub", ...(entry.allowReuse ? [] : ["jti"])],
      currentDate: new Date(clock()),
    });
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw refused("The workload's token is not valid", error);
  }
  const maxLifetime = entry.maxLifetimeSeconds ?? 3600;
  if (payload.exp! - payload.iat! > maxLifetime) {
    throw refused(`The workload's token lives longer than ${maxLifetime} seconds`);
  }
  const mapped = Object.hasOwn(entry.subjects, payload.sub!)
    ? entry.subjects[payload.sub!]
    : undefined;
  if (!mapped) throw refused("This workload is not a client here");
  const named = form.get("client_id");
  if (named !== null && named !== mapped.clientId) {
    throw new OAuthError("invalid_request", "client_id does not match the workload's client");
  }
  if (!entry.allowReuse) {
    const ttlMs = Math.max(1000, payload.exp! * 1000 - clock() + 60_000);
    const key = `as:workload:${await sha256(`${entry.issuer} ${payload.jti}`)}`;
    if (!(await context.store.add(key, true, { ttlMs }))) {
      throw refused("The workload's token was already used");
    }
  }
  // A machine client that exists only in this configuration: client_credentials alone.
  return {
    client_id: mapped.clientId,
    ...(mapped.scope === undefined ? {} : { scope: mapped.scope }),
    redirect_uris: [],
    token_endpoint_auth_method: "private_key_jwt",
    grant_types: ["client_credentials"],
    response_types: [],
    application_type: "web",
    source: "configured",
  };
}
