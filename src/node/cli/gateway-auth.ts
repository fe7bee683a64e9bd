/**
 * Who signs callers in for `portcullis gateway`: the built-in authorization server with dev
 * login (the default, for this machine), or an issuer someone else runs (an OIDC provider or
 * any OAuth server issuing JWT access tokens), by flags or the config file's `auth` block.
 */
import { devLogin } from "../../auth/login/dev.tsx";
import { authorizationServer } from "../../auth/server.ts";
import type { EndpointAuth } from "../../resource/protect.ts";
import { jwksVerifier } from "../../resource/verifiers.ts";
import { memoryStore } from "../../storage/memory.ts";
import { isLoopbackHost } from "../../util/loopback.ts";
import { UsageError, type Values } from "./args.ts";

/** The gateway's protection, and how the command describes it. */
export interface GatewayAuth {
  auth: EndpointAuth;
  /** What `serving …` says about signing in. */
  signIn: string;
}

/** An absolute https URL, or http on loopback (then insecure requests are allowed). */
function issuerUrl(value: string, flag: string): { url: string; insecure: boolean } {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new UsageError(`${flag} must be an http(s) URL, not ${value}`);
  }
  const insecure = url.protocol === "http:";
  if (insecure && !isLoopbackHost(url.hostname)) {
    throw new UsageError(`${flag} must use https (http only on loopback): ${value}`);
  }
  return { url: value, insecure };
}

function stringField(block: Record<string, unknown>, key: string): string | undefined {
  const value = block[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new UsageError(`auth.${key} must be a string`);
  return value;
}

/**
 * `--issuer <url>` (with `--jwks-url`, `--audience`) or the config's
 * `"auth": { "issuer", "jwksUrl", "audience" }`; flags win. Without an issuer: the built-in
 * authorization server with dev login, in memory.
 */
export function gatewayAuth(values: Values, config: Record<string, unknown> = {}): GatewayAuth {
  const block = config.auth;
  if (
    block !== undefined &&
    (typeof block !== "object" || block === null || Array.isArray(block))
  ) {
    throw new UsageError("auth must be a JSON object");
  }
  const fromFile = (block ?? {}) as Record<string, unknown>;
  const issuer = values.issuer ?? stringField(fromFile, "issuer");
  const jwks = values["jwks-url"] ?? stringField(fromFile, "jwksUrl");
  const audience = values.audience ?? stringField(fromFile, "audience");
  if (issuer === undefined) {
    if (jwks !== undefined || audience !== undefined) {
      throw new UsageError("--jwks-url and --audience go with --issuer");
    }
    return {
      // Dev login serves a loopback issuer only: this gateway is for this machine until an
      // operator configures a real login in code or names an issuer.
      auth: authorizationServer({ store: memoryStore(), login: devLogin() }),
      signIn: "sign in with dev login",
    };
  }
  const checked = issuerUrl(issuer, "--issuer");
  const jwksUri = jwks === undefined ? undefined : issuerUrl(jwks, "--jwks-url").url;
  if (audience !== undefined && !URL.canParse(audience)) {
    throw new UsageError(`--audience must be an absolute URI, not ${audience}`);
  }
  return {
    auth: {
      issuer: checked.url,
      ...(audience !== undefined && { audience }),
      verify: jwksVerifier({
        issuer: checked.url,
        ...(jwksUri !== undefined && { jwksUri }),
        ...(checked.insecure && { allowInsecureRequests: true }),
      }),
    },
    signIn: `tokens from ${checked.url}`,
  };
}
