import type { Context, Hono } from "hono";
import { getSignedCookie, setSignedCookie } from "hono/cookie";
import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { Exposure } from "../util/exposure.ts";
import type { Sealer } from "../util/sealer.ts";

/** The signed-in user, as a login provider reports them. */
export interface User {
  /** Stable identifier; becomes the token's `sub`. */
  subject: string;
  name?: string;
  email?: string;
  /** Extra claims to remember for this login. */
  claims?: Record<string, unknown>;
}

/** An authorization request waiting for the user to sign in and consent. */
export interface PendingAuthorization {
  id: string;
  clientId: string;
  clientName: string;
  clientSource: "registered" | "metadata-document" | "configured";
  redirectUri: string;
  /** Whether the client sent redirect_uri (then /token must repeat it, RFC 6749 §4.1.3). */
  redirectUriSent: boolean;
  state: string | undefined;
  scope: string;
  resource: string;
  codeChallenge: string;
  /** The DPoP key the code is bound to (RFC 9449 §10 `dpop_jkt`). */
  dpopJkt?: string;
  /**
   * Ties the form shown (sign-in, then consent) to this request. Replaced, with the id, when a
   * user is bound to the request: what a page showed before sign-in never approves anything.
   */
  csrf: string;
  /** Set once a user is known; the consent must come from the same user. */
  subject?: string;
  /** The sign-in the request is bound to (the login cookie's); a later sign-in rebinds it. */
  session?: string;
  /**
   * Whether remembered consent may approve this request without asking: only when the client
   * proves who it is (RFC 8252 §8.6).
   */
  identityAssured: boolean;
  /**
   * Set for a sign-in to one of the server's own pages (the connected-apps page): once the
   * user is known they go back to this path, and no code is issued.
   */
  returnTo?: string;
}

/** What the authorization server lends a login provider. */
export interface LoginKit {
  readonly store: Store;
  /** Seals data the provider keeps (such as upstream tokens) with the server secret. */
  sealer(): Promise<Sealer>;
  issuer(c: Context): string;
  pending(id: string): Promise<PendingAuthorization | undefined>;
  /** Records the login and returns the response that resumes the authorization request. */
  complete(c: Context, user: User, pendingId: string): Promise<Response>;
  /**
   * Reports a refused sign-in to the audit trail: `reason` in a few words, never what the
   * user typed; `pending` when the request is known.
   */
  failed(c: Context, reason: string, pending?: PendingAuthorization): void;
  /**
   * Keeps a user's tokens at the provider, sealed, for `ctx.upstream.token()` (a provider
   * with `upstream`); replaces what was kept for the subject before.
   */
  keepUpstreamTokens(subject: string, tokens: UpstreamTokenSet): Promise<void>;
}

/** A user's tokens at an upstream provider, as the authorization server keeps them (sealed). */
export interface UpstreamTokenSet {
  access_token: string;
  token_type?: string;
  refresh_token?: string;
  /** Seconds the access token lives, as the provider said at issuance. */
  expires_in?: number;
  /** Unix seconds when the access token expires (set when kept); absent: it never says. */
  expires_at?: number;
  scope?: string;
  id_token?: string;
}

/**
 * A login provider whose sign-ins leave tokens for the provider's own APIs. The authorization
 * server keeps them by subject and hands them to handlers through `ctx.upstream`.
 */
export interface UpstreamTokenSource {
  /**
   * Refreshes the tokens at the provider. Rejects with `UpstreamRefusedError` when the
   * provider refuses the refresh token (invalid_grant): the user must sign in again.
   */
  refresh(refreshToken: string): Promise<UpstreamTokenSet>;
  /** Seconds before expiry at which an access token is refreshed rather than handed out. */
  readonly refreshSkewSeconds: number;
}

/**
 * How users sign in at the authorization server. `challenge` shows a login page or sends the
 * user to an identity provider; the provider's own routes end by calling `kit.complete`.
 */
export interface LoginProvider {
  /** URL-safe name; the provider's routes are mounted at /login/{name}. */
  readonly name: string;
  /** Who is signed in already, if the provider knows without asking (default: the login cookie). */
  identify?(c: Context): Promise<User | undefined> | User | undefined;
  challenge(c: Context, pending: PendingAuthorization, kit: LoginKit): Promise<Response> | Response;
  routes?(kit: LoginKit): Hono;
  /**
   * Throws when the provider must not run where the server is; called at construction with
   * a configured issuer, and on every request.
   */
  check?(deployment: Deployment): void;
  /**
   * Set when the provider keeps the user's upstream tokens (`upstreamOAuth({ keepTokens })`):
   * a signed-in user whose tokens are gone then signs in at the provider again.
   */
  readonly upstream?: UpstreamTokenSource;
}

/** Where the authorization server runs, as it knows it without trusting a request header. */
export interface Deployment {
  /** The configured issuer; undefined when the issuer follows each request's origin. */
  issuer?: string;
  /** Who can reach the server (see `Exposure`); "network" behind a trusted proxy. */
  exposure: Exposure;
}

/** A user as a request identifies them: when they signed in, and which sign-in it was. */
export interface SignedInUser extends User {
  authTime?: number;
  session?: string;
}

const LOGIN_COOKIE = "portcullis-login";

interface LoginCookie extends User {
  /** Unix seconds. */
  authTime: number;
  exp: number;
  /** New at every sign-in: what a pending request is bound to. */
  session: string;
}

/** Remembers a login in a signed `__Host-` cookie, as the sign-in `session` (new each time). */
export async function setLoginCookie(
  c: Context,
  user: User,
  secret: string,
  ttlSeconds: number,
  session: string,
  clock: Clock = systemClock,
): Promise<void> {
  const now = Math.floor(clock() / 1000);
  const value: LoginCookie = { ...user, authTime: now, exp: now + ttlSeconds, session };
  await setSignedCookie(c, LOGIN_COOKIE, JSON.stringify(value), secret, {
    prefix: "host",
    httpOnly: true,
    sameSite: "Lax",
    maxAge: ttlSeconds,
  });
}

export async function readLoginCookie(
  c: Context,
  secret: string,
  clock: Clock = systemClock,
): Promise<(SignedInUser & { authTime: number }) | undefined> {
  const raw = await getSignedCookie(c, secret, LOGIN_COOKIE, "host");
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as LoginCookie;
    if (typeof value.subject !== "string" || value.exp < clock() / 1000) return undefined;
    // Cookies from before sessions existed carry none: they bind nothing, so they sign in again.
    if (typeof value.session !== "string") return undefined;
    return value;
  } catch {
    return undefined;
  }
}
