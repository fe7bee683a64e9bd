import type { Context } from "hono";
import type { AuthorizationCore } from "./core.ts";
import { readLoginCookie, type SignedInUser } from "./login.ts";

/**
 * Who is signed in at the authorization server: the login provider's answer, by default the
 * login cookie. Where the provider keeps upstream tokens, a user whose tokens are gone
 * (refused by the provider, or dropped with a revoked grant) counts as signed out, so the
 * next authorization goes through the provider again and brings new ones.
 */
export async function identifyUser(
  as: AuthorizationCore,
  c: Context,
): Promise<SignedInUser | undefined> {
  const login = as.options.login;
  const user = login.identify
    ? await login.identify(c)
    : await readLoginCookie(c, await as.secret(), as.clock);
  if (user && as.upstream && !(await as.upstream.has(user.subject))) return undefined;
  return user;
}
