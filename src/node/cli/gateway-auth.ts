/**
 * Who signs callers in for `portcullis gateway`: the built-in authorization server with dev
 * login (the default, for this machine) or with an OpenID provider's login, or an issuer
 * someone else runs (an OIDC provider or any OAuth server issuing JWT access tokens), by flags
 * or the config file's `auth` block.
 */

import { devLogin } from "../../auth/login/dev.tsx";
import { githubOAuth, googleOAuth, oidcOAuth } from "../../auth/login/presets.ts";
import type { LoginProvider } from "../../auth/login.ts";
import { authorizationServer } from "../../auth/server.ts";
import type { EndpointAuth } from "../../resource/protect.ts";
import { jwksVerifier } from "../../resource/verifiers.ts";
import { memoryStore } from "../../storage/memory.ts";
import { isLoopbackHost } from "../../util/loopback.ts";
import { UsageError, type Values } from "./args.ts";
import { expand } from "./expand.ts";

/** The gateway's protection, and how the command describes it. */
export interface GatewayAuth {
  auth: EndpointAuth;
  /** What `serving …` says about signing in. */
  signIn: string;
  /** Where a provider's login returns, under the gateway's URL: register it at the provider. */
  callbackPath?: string;
}

/** The providers a config file's `auth.login.provider` may name. */
const PROVIDERS = ["oidc", "google", "github"] as const;

/**
 * The built-in server's login at an OpenID provider (or Google, GitHub): `--oidc-issuer` with
 * `--oidc-client-id` and $PORTCULLIS_OIDC_CLIENT_SECRET, or the config's
 * `"auth": { "login": { "provider", "issuer", "clientId", "clientSecret" } }` (values may
 * name `${VAR}`s). A secret is never a flag: command lines are visible to every local user.
 */
function providerLogin(
  values: Values,
  block: Record<string, unknown>,
  env: Record<string, string | undefined>,
): { login: LoginProvider; provider: string; signIn: string } | undefined {
  if (values["oidc-issuer"] !== undefined || values["oidc-client-id"] !== undefined) {
    const issuer = values["oidc-issuer"];
    const clientId = values["oidc-client-id"];
    if (issuer === undefined || clientId === undefined) {
      throw new UsageError("--oidc-issuer and --oidc-client-id go together");
    }
    const clientSecret = env.PORTCULLIS_OIDC_CLIENT_SECRET;
    if (!clientSecret) {
      throw new UsageError(
        "--oidc-issuer needs the client secret in $PORTCULLIS_OIDC_CLIENT_SECRET",
      );
    }
    return oidcLogin(issuerUrl(issuer, "--oidc-issuer"), clientId, clientSecret);
  }
  if (block.login === undefined) return undefined;
  if (typeof block.login !== "object" || block.login === null || Array.isArray(block.login)) {
    throw new UsageError("auth.login must be a JSON object");
  }
  const login = block.login as Record<string, unknown>;
  const field = (key: string): string | undefined => {
    const value = login[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw new UsageError(`auth.login.${key} must be a string`);
    return expand(value, env, `auth.login.${key}`);
  };
  const provider = field("provider") ?? "oidc";
  if (!(PROVIDERS as readonly string[]).includes(provider)) {
    throw new UsageError(`auth.login.provider must be one of ${PROVIDERS.join(", ")}`);
  }
  const clientId = field("clientId");
  const clientSecret = field("clientSecret");
  if (!clientId || !clientSecret) {
    throw new UsageError("auth.login needs clientId and clientSecret");
  }
  if (provider === "google") {
    return {
      login: googleOAuth({ clientId, clientSecret }),
      provider,
      signIn: "sign in with Google",
    };
  }
  if (provider === "github") {
    return {
      login: githubOAuth({ clientId, clientSecret }),
      provider,
      signIn: "sign in with GitHub",
    };
  }
  const issuer = field("issuer");
  if (issuer === undefined) throw new UsageError("auth.login needs the provider's issuer");
  return oidcLogin(issuerUrl(issuer, "auth.login.issuer"), clientId, clientSecret);
}

function oidcLogin(
  issuer: { url: string; insecure: boolean },
  clientId: string,
  clientSecret: string,
): { login: LoginProvider; provider: string; signIn: string } {
  return {
    login: oidcOAuth({
      issuer: issuer.url,
      clientId,
      clientSecret,
      ...(issuer.insecure && { allowInsecureRequests: true }),
    }),
    provider: "oidc",
    signIn: `sign in at ${issuer.url}`,
  };
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
export function gatewayAuth(
  values: Values,
  config: Record<string, unknown> = {},
  env: Record<string, string | undefined> = {},
): GatewayAuth {
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
  const provider = providerLogin(values, fromFile, env);
  if (issuer === undefined) {
    if (jwks !== undefined || audience !== undefined) {
      throw new UsageError("--jwks-url and --audience go with --issuer");
    }
    if (provider) {
      return {
        auth: authorizationServer({ store: memoryStore(), login: provider.login }),
        signIn: provider.signIn,
        callbackPath: `/login/${provider.provider}/callback`,
      };
    }
    return {
      // Dev login serves a loopback issuer only: this gateway is for this machine until an
      // operator configures a real login in code or names an issuer.
      auth: authorizationServer({ store: memoryStore(), login: devLogin() }),
      signIn: "sign in with dev login",
    };
  }
  if (provider) {
    throw new UsageError(
      "Choose one: --issuer (tokens from elsewhere) or a login for the built-in server",
    );
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
