/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { isLoopbackHost } from "../../http/origin.ts";
import { timingSafeEqual } from "../crypto.ts";
import type { LoginProvider } from "../login.ts";
import { cspSource, DevLoginPage, pageHeaders } from "../pages.tsx";

export interface DevLoginOptions {
  /** Pre-filled user name. Default "dev-user". */
  defaultUser?: string;
  /** Run even when the issuer is not on loopback. Never do this on a real deployment. */
  force?: boolean;
}

/**
 * Local-development login: a form where anyone can type any user name. Refuses to run on an
 * issuer that is not on loopback unless forced.
 */
export function devLogin(options: DevLoginOptions = {}): LoginProvider {
  return {
    name: "dev",
    check(issuer) {
      if (options.force) return;
      const host = new URL(issuer).hostname;
      if (!isLoopbackHost(host)) {
        throw new Error(`devLogin() refuses to run on ${issuer}: it lets anyone sign in as anyone`);
      }
    },
    challenge(c, pending) {
      return c.html(
        <DevLoginPage
          pending={pending}
          action="/login/dev"
          defaultUser={options.defaultUser ?? "dev-user"}
        />,
        200,
        // The sign-in may end straight at the client (remembered consent): browsers apply
        // form-action to that redirect too.
        pageHeaders([cspSource(pending.redirectUri)]),
      );
    },
    routes(kit) {
      const routes = new Hono();
      routes.post("/", async (c) => {
        const form = await c.req.parseBody();
        const pendingId = typeof form.request_id === "string" ? form.request_id : "";
        const pending = await kit.pending(pendingId);
        const csrf = typeof form.csrf === "string" ? form.csrf : "";
        const username = typeof form.username === "string" ? form.username.trim() : "";
        if (
          !pending ||
          !timingSafeEqual(csrf, pending.csrf) ||
          !/^[\w.@+-]{1,64}$/.test(username)
        ) {
          return c.text(
            "This sign-in request is invalid or expired. Start again from the application.",
            400,
          );
        }
        return kit.complete(c, { subject: username, name: username }, pendingId);
      });
      return routes;
    },
  };
}
