/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import { Hono } from "hono/tiny";
import { timingSafeEqual } from "../../util/crypto.ts";
import { isLoopbackHost } from "../../util/loopback.ts";
import { BODY_LIMITS, readPageForm } from "../body.tsx";
import type { LoginProvider } from "../login.ts";
import { cspSource, DevLoginPage, pageHeaders } from "../pages.tsx";

export interface DevLoginOptions {
  /** Pre-filled user name. Default "dev-user". */
  defaultUser?: string;
  /** Run even when the issuer is not on loopback. Never do this on a real deployment. */
  force?: boolean;
}

/**
 * Local-development login: a form where anyone can type any user name. Unless forced, it
 * runs only where the server is known to serve this machine alone, never by a request header:
 * `serve()` (portcullis/node) bound to loopback with no proxy in front, or a runtime that does
 * not say where it listens (Workers, Bun, Deno) with a configured loopback issuer. A
 * configured issuer that is not on loopback refuses it everywhere.
 */
export function devLogin(options: DevLoginOptions = {}): LoginProvider {
  const refuse = (why: string) => {
    throw new Error(`devLogin() refuses to run ${why}: it lets anyone sign in as anyone`);
  };
  return {
    name: "dev",
    check({ issuer, exposure }) {
      if (options.force) return;
      if (issuer !== undefined && !isLoopbackHost(new URL(issuer).hostname)) {
        refuse(`on ${issuer}`);
      }
      if (exposure === "network") {
        refuse(
          "on a server reachable beyond this machine (bound beyond loopback, or behind a proxy)",
        );
      }
      if (exposure === "unknown" && issuer === undefined) {
        refuse(
          "where the runtime does not say who can reach the server, without a configured loopback issuer (such as http://localhost:8787)",
        );
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
        const form = await readPageForm(c, BODY_LIMITS.form);
        if (form instanceof Response) return form;
        const pendingId = form.get("request_id") ?? "";
        const pending = await kit.pending(pendingId);
        const csrf = form.get("csrf") ?? "";
        const username = (form.get("username") ?? "").trim();
        if (
          !pending ||
          !timingSafeEqual(csrf, pending.csrf) ||
          !/^[\w.@+-]{1,64}$/.test(username)
        ) {
          kit.failed(
            c,
            pending ? "the sign-in form is invalid or forged" : "the sign-in request expired",
            pending,
          );
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
