import type { SafeFetchOptions } from "../util/ssrf.ts";

/** An enterprise identity provider whose Identity Assertion JWT Authorization Grants are trusted. */
export interface TrustedIdentityProvider {
  /** Its issuer identifier: an ID-JAG's `iss` must be exactly this. */
  issuer: string;
  /** Where its signing keys are published (a JWK Set), fetched through the guarded fetch. */
  jwksUri: string;
  /** Accepted signature algorithms. Default ES256, RS256, PS256, EdDSA. */
  algorithms?: readonly string[];
  /** Allow an http:// loopback `jwksUri` (tests and local development). Default false. */
  allowInsecureRequests?: boolean;
}

/**
 * Enterprise-managed authorization (the MCP ext-auth extension): the JWT bearer grant (RFC
 * 7523) carrying an ID-JAG (typ `oauth-id-jag+jwt`) from an enterprise identity provider the
 * operator trusts. Off unless given.
 */
export interface IdentityAssertionOptions {
  /** The identity providers trusted to assert users. At least one. */
  trust: readonly TrustedIdentityProvider[];
  /** The longest lifetime (`exp` - `iat`) an assertion may have, in seconds. Default 300. */
  maxLifetimeSeconds?: number;
  /**
   * The local subject for an assertion's user. Default: `sub` as the IdP states it; give a
   * mapping when several IdPs (or a login provider) could name different people alike.
   */
  subject?: (claims: { iss: string; sub: string } & Record<string, unknown>) => string;
  /** How long fetched keys are used before they are fetched again, in seconds. Default 300. */
  keysCacheSeconds?: number;
  /** Limits of the guarded fetch of the keys (private-network IdPs, time limit, …). */
  fetch?: Omit<SafeFetchOptions, "allowLoopback" | "headers">;
}

const positive = (value: unknown) =>
  typeof value === "number" && Number.isFinite(value) && value > 0;

/** Checks the options at construction, so that a mistake fails at startup. */
export function checkIdentityAssertionOptions(options: IdentityAssertionOptions): void {
  if (typeof options !== "object" || options === null || !Array.isArray(options.trust)) {
    throw new TypeError(
      "identityAssertion must be { trust: [{ issuer, jwksUri }] }, naming the identity providers to trust",
    );
  }
  if (options.trust.length === 0) {
    throw new TypeError("identityAssertion.trust must name at least one identity provider");
  }
  const seen = new Set<string>();
  for (const idp of options.trust) {
    if (typeof idp?.issuer !== "string" || !URL.canParse(idp.issuer)) {
      throw new TypeError(`identityAssertion.trust: issuer must be a URL: ${String(idp?.issuer)}`);
    }
    if (seen.has(idp.issuer)) {
      throw new TypeError(`identityAssertion.trust names ${idp.issuer} twice`);
    }
    seen.add(idp.issuer);
    if (typeof idp.jwksUri !== "string" || !URL.canParse(idp.jwksUri)) {
      throw new TypeError(`identityAssertion.trust: jwksUri of ${idp.issuer} must be a URL`);
    }
    const scheme = new URL(idp.jwksUri).protocol;
    if (scheme !== "https:" && !(scheme === "http:" && idp.allowInsecureRequests)) {
      throw new TypeError(
        `identityAssertion.trust: jwksUri of ${idp.issuer} must be https (allowInsecureRequests permits http on loopback)`,
      );
    }
    const algorithms = idp.algorithms;
    if (
      algorithms !== undefined &&
      (!algorithms.length || algorithms.some((alg: string) => alg.toLowerCase() === "none"))
    ) {
      throw new TypeError('identityAssertion.trust: algorithms must name some, and never "none"');
    }
  }
  for (const field of ["maxLifetimeSeconds", "keysCacheSeconds"] as const) {
    if (options[field] !== undefined && !positive(options[field])) {
      throw new TypeError(`identityAssertion.${field} must be a number of seconds above 0`);
    }
  }
  if (options.subject !== undefined && typeof options.subject !== "function") {
    throw new TypeError("identityAssertion.subject must be a function of the assertion's claims");
  }
}
