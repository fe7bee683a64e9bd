/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { base64url } from "jose";
import { timingSafeEqual } from "../util/crypto.ts";
import { type ConnectedApp, ConnectedAppsPage } from "./account-page.tsx";
import { BODY_LIMITS, readPageForm } from "./body.tsx";
import { consentedClients } from "./consent.ts";
import type { AuthorizationCore } from "./core.ts";
import type { GrantRecord } from "./grants.ts";
import { identifyUser } from "./identify.ts";
import type { SignedInUser } from "./login.ts";
import { NoticePage, pageHeaders } from "./pages.tsx";

/** Where the connected-apps page is served unless configured otherwise. */
export const DEFAULT_CONNECTED_APPS_PATH = "/connected-apps";

const encoder = new TextEncoder();

/**
 * The page's form token: an HMAC of the user and their sign-in under the server secret. It
 * needs no Store write per page view, and no other user or sign-in can produce it.
 */
async function formToken(secret: string, user: SignedInUser): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const purpose = JSON.stringify(["connected-apps", user.subject, user.session ?? ""]);
  return base64url.encode(
    new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(purpose))),
  );
}

/** Groups a user's grants by client, with the clients known only by remembered consent. */
async function connectedApps(as: AuthorizationCore, subject: string): Promise<ConnectedApp[]> {
  const byClient = new Map<string, GrantRecord[]>();
  for (const grant of await as.grants.list(subject)) {
    byClient.set(grant.clientId, [...(byClient.get(grant.clientId) ?? []), grant]);
  }
  const ids = [...new Set([...byClient.keys(), ...(await consentedClients(as.store, subject))])];
  return Promise.all(
    ids.map(async (clientId) => {
      const grants = byClient.get(clientId) ?? [];
      const client = await as.clients.get(clientId).catch(() => undefined);
      const app: ConnectedApp = {
        clientId,
        name: client?.client_name ?? clientId,
        scopes: [...new Set(grants.flatMap((grant) => grant.scope.split(" ").filter(Boolean)))],
        resources: [...new Set(grants.map((grant) => grant.resource))],
      };
      if (grants.length) {
        app.approvedAt = Math.min(...grants.map((grant) => grant.createdAt));
        app.lastUsedAt = Math.max(...grants.map((grant) => grant.lastUsedAt));
      }
      return app;
    }),
  );
}

/**
 * The connected-apps page at `path`: a signed-in user sees each client they approved and
 * revokes it (POST `path`/revoke, with the page's form token). Not signed in, the page sends
 * the user to sign in first (`/sign-in`, which returns here).
 */
export function accountRoutes(as: AuthorizationCore, path: string): Hono {
  const routes = new Hono();
  const identify = (c: Context) => identifyUser(as, c);
  const notice = (c: Context, status: 403 | 404, title: string, message: string) =>
    c.html(<NoticePage title={title} message={message} />, status, pageHeaders());

  routes.get(path, async (c) => {
    const user = await identify(c);
    if (!user) {
      return c.redirect(`/sign-in?return_to=${encodeURIComponent(path)}`, 303);
    }
    return c.html(
      <ConnectedAppsPage
        userName={user.name ?? user.subject}
        apps={await connectedApps(as, user.subject)}
        action={`${path}/revoke`}
        csrf={await formToken(await as.secret(), user)}
      />,
      200,
      pageHeaders(),
    );
  });

  routes.post(`${path}/revoke`, async (c) => {
    await as.rateLimit(c, "consent");
    const form = await readPageForm(c, BODY_LIMITS.form);
    if (form instanceof Response) return form;
    const user = await identify(c);
    if (
      !user ||
      !timingSafeEqual(form.get("csrf") ?? "", await formToken(await as.secret(), user))
    ) {
      return notice(
        c,
        403,
        "Request refused",
        "This form is invalid or expired. Open the connected apps page again.",
      );
    }
    const clientId = form.get("client_id") ?? "";
    // Only the signed-in user's own: another user's client is "not found", and stays as it was.
    if (!clientId || !(await as.grants.clientsOf(user.subject)).includes(clientId)) {
      return notice(c, 404, "Not found", "No connected app of yours has that id.");
    }
    await as.grants.revokeAll(user.subject, clientId);
    return c.redirect(path, 303);
  });

  return routes;
}
