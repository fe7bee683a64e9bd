import * as oauth from "oauth4webapi";
import { PortcullisError, UnavailableError } from "../util/errors.ts";

/**
 * The authorization server could not be asked about a token: unreachable, too slow, or it
 * answered with an error. The token may well be valid, so the resource server answers 503
 * (try again) rather than 401 `invalid_token` (authorize again).
 */
export class IssuerUnavailableError extends UnavailableError {
  declare readonly code: "ERR_ISSUER_UNAVAILABLE";

  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_ISSUER_UNAVAILABLE", message, options);
    this.name = "IssuerUnavailableError";
  }
}

/**
 * A verifier's refusal of a token, with the reason for the operator's log. The reply says
 * only `invalid_token` (RFC 6750): the reason never reaches the client.
 */
export class InvalidTokenError extends PortcullisError {
  declare readonly code: "ERR_INVALID_TOKEN";

  constructor(reason: string, options?: { cause?: unknown }) {
    super("ERR_INVALID_TOKEN", reason, options);
    this.name = "InvalidTokenError";
  }
}

/** How long one request to the authorization server may take (as jose's JWKS fetch). */
export const ISSUER_TIMEOUT_MS = 5_000;

/** Options every oauth4webapi request to the issuer takes. */
export function issuerRequestOptions(allowInsecureRequests: boolean | undefined): {
  signal: AbortSignal;
  [oauth.allowInsecureRequests]?: boolean;
} {
  const options = { signal: AbortSignal.timeout(ISSUER_TIMEOUT_MS) };
  return allowInsecureRequests ? { ...options, [oauth.allowInsecureRequests]: true } : options;
}

/** Checks a configured issuer or endpoint URL at construction: absolute, https unless allowed. */
export function configuredUrl(value: string, name: string, allowInsecure?: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name} must be an absolute URL: ${value}`);
  }
  if (url.protocol !== "https:" && !(allowInsecure && url.protocol === "http:")) {
    throw new TypeError(`${name} must use https (allowInsecureRequests permits http): ${value}`);
  }
  return url;
}

/**
 * The issuer's metadata: RFC 8414 first, then OpenID discovery when the issuer has no RFC 8414
 * document (many OpenID providers publish only that one). Failures are IssuerUnavailableError.
 */
export async function discoverIssuer(
  issuer: URL,
  allowInsecureRequests: boolean | undefined,
): Promise<oauth.AuthorizationServer> {
  try {
    let response = await oauth.discoveryRequest(issuer, {
      ...issuerRequestOptions(allowInsecureRequests),
      algorithm: "oauth2",
    });
    if (response.status === 404) {
      await response.body?.cancel();
      response = await oauth.discoveryRequest(issuer, {
        ...issuerRequestOptions(allowInsecureRequests),
        algorithm: "oidc",
      });
    }
    return await oauth.processDiscoveryResponse(issuer, response);
  } catch (error) {
    throw new IssuerUnavailableError(`The metadata of ${issuer.href} could not be read`, {
      cause: error,
    });
  }
}
