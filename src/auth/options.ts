import { cacheSize } from "../resource/token-cache.ts";
import { type Logger, logOnce } from "../util/log.ts";
import { isLoopbackHost } from "../util/loopback.ts";
import { checkOperatorOptions } from "./admin-options.ts";
import type { AuthorizationServerOptions } from "./core.ts";
import { checkIdentityAssertionOptions } from "./identity-assertion-options.ts";
import { checkTokenExchangeOptions } from "./token-exchange-options.ts";
import { checkWorkloadIdentityOptions } from "./workload-identity-options.ts";

/** Checks a configured issuer: an absolute http(s) URL, without query or fragment (RFC 8414 §2). */
function checkIssuer(issuer: string, logger: Logger): void {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError(
      `authorizationServer(): issuer must be an absolute URL, such as https://auth.example.com: ${issuer}`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(`authorizationServer(): issuer must be an https URL: ${issuer}`);
  }
  if (url.search || url.hash || issuer.includes("?") || issuer.includes("#")) {
    throw new TypeError(
      `authorizationServer(): issuer must have no query or fragment (RFC 8414): ${issuer}; drop everything from "?" or "#"`,
    );
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ""))) {
    logOnce(
      logger,
      "warn",
      `http-issuer ${issuer}`,
      "the issuer uses http:// off loopback: tokens and codes cross the network in clear, and OAuth clients refuse it; use https://",
      { issuer },
    );
  }
}

/**
 * Checks the authorization server's options at construction, so that a mistake fails at
 * startup with what to do, not at the first request. Plain JavaScript callers included.
 */
export function checkOptions(options: AuthorizationServerOptions, logger: Logger): void {
  if (!options?.store) {
    throw new TypeError(
      "authorizationServer() needs a store: memoryStore() from portcullis/storage for one process, redisStore() from portcullis/redis or durableObjectStore() from portcullis/cloudflare for several",
    );
  }
  if (!options.login || typeof options.login.challenge !== "function") {
    throw new TypeError(
      "authorizationServer() needs a login provider: devLogin() for local development, customLogin(...) or upstreamOAuth({ issuer, clientId }) from portcullis/auth",
    );
  }
  if (options.issuer !== undefined) checkIssuer(options.issuer, logger);
  if (options.secret !== undefined && options.secret.length < 32) {
    throw new TypeError("The authorization server secret must be at least 32 characters");
  }
  const registration = options.registration;
  for (const field of ["secretTtlSeconds", "unusedTtlSeconds"] as const) {
    const value = typeof registration === "object" ? registration[field] : undefined;
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`registration.${field} must be a number of seconds, 0 or more`);
    }
  }
  const recheck = options.revocationRecheckSeconds;
  if (recheck !== undefined && !(Number.isFinite(recheck) && recheck >= 0)) {
    throw new TypeError("revocationRecheckSeconds must be a number of seconds, 0 or more");
  }
  cacheSize(options.tokenCacheSize, "tokenCacheSize");
  if (options.audit !== undefined && typeof options.audit !== "function") {
    throw new TypeError(
      "audit must be a function that receives each event, such as jsonLinesAudit((line) => console.log(line))",
    );
  }
  if (options.operatorApi !== undefined) checkOperatorOptions(options.operatorApi);
  if (options.tokenExchange !== undefined) checkTokenExchangeOptions(options.tokenExchange);
  if (options.identityAssertion !== undefined)
    checkIdentityAssertionOptions(options.identityAssertion);
  if (options.workloadIdentity !== undefined) {
    const configured = (options.clients ?? []).map((client) => client.client_id);
    checkWorkloadIdentityOptions(options.workloadIdentity, configured);
  }
  const apps = options.connectedApps;
  if (apps && apps.path !== undefined && !/^\/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$/.test(apps.path)) {
    throw new TypeError(
      `connectedApps.path must be a path such as "/connected-apps": ${apps.path}`,
    );
  }
}
