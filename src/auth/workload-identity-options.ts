import type { KeySource } from "./issuer-keys.ts";

/** A machine client a workload authenticates as, and what it may ask for. */
export interface WorkloadClient {
  /** The client id its tokens carry. Not a URL, and no configured client's id. */
  clientId: string;
  /** The scopes it may have with client_credentials. Default none. */
  scope?: string;
}

/**
 * An issuer of workload identities (a Kubernetes cluster's service-account tokens, a CI
 * system's OIDC tokens) whose JWTs authenticate machine clients (RFC 7523 §2.2).
 */
export interface WorkloadIssuer {
  /** An assertion's `iss` must be exactly this. */
  issuer: string;
  /** Where its signing keys are published (a JWK Set). */
  jwksUri: string;
  /**
   * The audience its tokens must name. Default: this server's token endpoint or issuer. Set it
   * to the audience the workload's token is minted for (a projected token's `audience`).
   */
  audience?: string;
  /** Which workload (`sub`, exactly) is which client. Any other subject is refused. */
  subjects: Readonly<Record<string, WorkloadClient>>;
  /**
   * Accept one token several times until it expires, as Kubernetes projected tokens and CI
   * tokens are meant to be used. Default false: each `jti` once (a token without one is refused).
   */
  allowReuse?: boolean;
  /** The longest lifetime (`exp` - `iat`) accepted, in seconds. Default 3600. */
  maxLifetimeSeconds?: number;
  /** Accepted signature algorithms. Default ES256, RS256, PS256, EdDSA. */
  algorithms?: readonly string[];
  /** Allow an http:// loopback `jwksUri` (tests and local development). Default false. */
  allowInsecureRequests?: boolean;
}

/** Workload identity: machine clients authenticated by their platform's JWTs. Off unless given. */
export interface WorkloadIdentityOptions extends KeySource {
  issuers: readonly WorkloadIssuer[];
}

/** Checks the options at construction; `configured` are the configured clients' ids. */
export function checkWorkloadIdentityOptions(
  options: WorkloadIdentityOptions,
  configured: readonly string[],
): void {
  if (typeof options !== "object" || options === null || !Array.isArray(options.issuers)) {
    throw new TypeError(
      "workloadIdentity must be { issuers: [{ issuer, jwksUri, subjects: { sub: { clientId } } }] }",
    );
  }
  const issuers = new Set<string>();
  const clients = new Set<string>();
  for (const entry of options.issuers as readonly WorkloadIssuer[]) {
    const name = String(entry?.issuer);
    if (typeof entry?.issuer !== "string" || !URL.canParse(entry.issuer)) {
      throw new TypeError(`workloadIdentity: issuer must be a URL: ${name}`);
    }
    if (issuers.has(entry.issuer)) throw new TypeError(`workloadIdentity names ${name} twice`);
    issuers.add(entry.issuer);
    const jwks = typeof entry.jwksUri === "string" && URL.canParse(entry.jwksUri);
    const scheme = jwks ? new URL(entry.jwksUri).protocol : "";
    if (scheme !== "https:" && !(scheme === "http:" && entry.allowInsecureRequests)) {
      throw new TypeError(`workloadIdentity: jwksUri of ${name} must be an https URL`);
    }
    if (entry.algorithms?.some((alg: string) => alg.toLowerCase() === "none")) {
      throw new TypeError('workloadIdentity: algorithms may never include "none"');
    }
    const max = entry.maxLifetimeSeconds;
    if (max !== undefined && !(Number.isFinite(max) && max > 0)) {
      throw new TypeError("workloadIdentity: maxLifetimeSeconds must be above 0");
    }
    if (typeof entry.subjects !== "object" || entry.subjects === null) {
      throw new TypeError(`workloadIdentity: ${name} needs subjects: { "<sub>": { clientId } }`);
    }
    for (const [subject, client] of Object.entries(entry.subjects)) {
      const id = client?.clientId;
      if (typeof id !== "string" || !id || URL.canParse(id)) {
        throw new TypeError(`workloadIdentity: ${subject} needs a clientId that is not a URL`);
      }
      if (configured.includes(id) || clients.has(id)) {
        throw new TypeError(`workloadIdentity: the client id ${id} is taken`);
      }
      clients.add(id);
    }
  }
}
