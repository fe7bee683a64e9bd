import type { Context } from "hono";
import type { LoginProvider, User } from "../login.ts";

export interface CustomLoginOptions {
  /**
   * Finds the signed-in user from your application's own session. Return undefined when no
   * one is signed in, or a Response (such as a redirect to your login page) to take over;
   * `returnTo` is where that login page should send the user back to afterwards.
   */
  authenticate: (
    c: Context,
    flow: { returnTo?: string },
  ) => Promise<User | Response | undefined> | User | Response | undefined;
}

/** Login through your application's existing sessions. */
export function customLogin(options: CustomLoginOptions): LoginProvider {
  return {
    name: "custom",
    async identify(c) {
      const result = await options.authenticate(c, {});
      return result instanceof Response ? undefined : result;
    },
    async challenge(c, pending) {
      const returnTo = `/authorize?request_id=${encodeURIComponent(pending.id)}`;
      const result = await options.authenticate(c, { returnTo });
      if (result instanceof Response) return result;
      return c.text("Sign in to the application first, then try again.", 401);
    },
  };
}
