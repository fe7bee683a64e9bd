import * as oauth from "oauth4webapi";
import { toHex } from "../util/bytes.ts";
import { digest } from "../util/crypto.ts";
import {
  configuredUrl,
  discoverIssuer,
  IssuerUnavailableError,
  issuerRequestOptions,
} from "./issuer.ts";

/** How a resource server authenticates to the issuer's RFC 7662 introspection endpoint. */
export interface IntrospectionClientOptions {
  /** The issuer, whose metadata names the introspection endpoint. */
  issuer: string;
  clientId: string;
  /** Sent with HTTP Basic authentication (client_secret_basic). */
  clientSecret: string;
  /**
   * Seconds an answer is reused; a revoked token keeps working at most this long. Never past
   * the token's expiry. 0 to 300; default 30.
   */
  cacheSeconds?: number;
  /** Permit http:// on loopback (tests and local development). */
  allowInsecureRequests?: boolean;
  /** Epoch milliseconds now. Default Date.now. */
  clock?: () => number;
}

export type Introspection = oauth.IntrospectionResponse;

/** Answers kept at most, so that a flood of distinct tokens cannot grow memory without bound. */
const MAX_CACHED = 10_000;

async function cacheKey(token: string): Promise<string> {
  return toHex(await digest(token));
}

/**
 * Asks the issuer about tokens (RFC 7662, through oauth4webapi) and keeps each answer for a
 * short while, keyed by the token's hash. Throws IssuerUnavailableError when no answer came:
 * the endpoint is unreachable, too slow, or answered anything but 200 with an `active` field.
 */
export function introspector(
  options: IntrospectionClientOptions,
): (token: string) => Promise<Introspection> {
  const issuer = configuredUrl(options.issuer, "issuer", options.allowInsecureRequests);
  const cacheSeconds = options.cacheSeconds ?? 30;
  if (!(Number.isFinite(cacheSeconds) && cacheSeconds >= 0 && cacheSeconds <= 300)) {
    throw new TypeError("cacheSeconds must be between 0 and 300");
  }
  if (!options.clientId || !options.clientSecret) {
    throw new TypeError("Introspection needs the resource server's clientId and clientSecret");
  }
  const clock = options.clock ?? Date.now;
  const client: oauth.Client = { client_id: options.clientId };
  const auth = oauth.ClientSecretBasic(options.clientSecret);
  const cache = new Map<string, { answer: Introspection; until: number }>();
  let metadata: Promise<oauth.AuthorizationServer> | undefined;

  const ask = async (token: string): Promise<Introspection> => {
    metadata ??= discoverIssuer(issuer, options.allowInsecureRequests).catch((error: unknown) => {
      metadata = undefined;
      throw error;
    });
    const as = await metadata;
    try {
      const request = issuerRequestOptions(options.allowInsecureRequests);
      const response = await oauth.introspectionRequest(as, client, auth, token, request);
      return await oauth.processIntrospectionResponse(as, client, response);
    } catch (error) {
      throw new IssuerUnavailableError("The introspection endpoint gave no answer", {
        cause: error,
      });
    }
  };

  return async (token) => {
    const key = await cacheKey(token);
    const now = clock();
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.answer;
    if (hit) cache.delete(key);
    const answer = await ask(token);
    const expiresAt = typeof answer.exp === "number" ? answer.exp * 1000 : Number.POSITIVE_INFINITY;
    const until = Math.min(now + cacheSeconds * 1000, expiresAt);
    if (until > now) {
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
      cache.set(key, { answer, until });
    }
    return answer;
  };
}
