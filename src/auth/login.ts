import type { Context, Hono } from "hono";
import { getSignedCookie, setSignedCookie } from "hono/cookie";
import type { Store } from "../storage/store.ts";
import type { Sealer } from "./crypto.ts";

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
  /** Ties the consent form to this request. */
  csrf: string;
  /** Set once a user is known; the consent must come from the same user. */
  subject?: string;
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
  /** Throws when the provider must not run for this issuer. */
  check?(issuer: string): void;
}

const LOGIN_COOKIE = "portcullis-login";

interface LoginCookie extends User {
  /** Unix seconds. */
  authTime: number;
  exp: number;
}

/** Remembers a login in a signed `__Host-` cookie. */
export async function setLoginCookie(
  c: Context,
  user: User,
  secret: string,
  ttlSeconds: number,
): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const value: LoginCookie = { ...user, authTime: now, exp: now + ttlSeconds };
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
): Promise<(User & { authTime: number }) | undefined> {
  const raw = await getSignedCookie(c, secret, LOGIN_COOKIE, "host");
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as LoginCookie;
    if (typeof value.subject !== "string" || value.exp < Date.now() / 1000) return undefined;
    return value;
  } catch {
    return undefined;
  }
}
