/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { randomToken, timingSafeEqual } from "./crypto.ts";
import { OAuthError } from "./errors.ts";
import {
  type LoginKit,
  type PendingAuthorization,
  readLoginCookie,
  setLoginCookie,
  type User,
} from "./login.ts";
import { ConsentPage, cspSource, ErrorPage, pageHeaders } from "./pages.tsx";
import { redirectUriMatches } from "./redirect-uri.ts";
import type { AuthorizationServer } from "./server.ts";

const PENDING_TTL_MS = 10 * 60_000;
const pendingKey = (id: string) => `as:pending:${id}`;
const consentKey = (subject: string, clientId: string, resource: string) =>
  `as:consent:${subject}:${clientId}:${resource}`;

function errorPage(
  c: Context,
  status: 400 | 403,
  title: string,
  message: string,
): Response | Promise<Response> {
  return c.html(<ErrorPage title={title} message={message} />, status, pageHeaders());
}

/** Sends the user back to the client, with RFC 9207 `iss` on success and error alike. */
function backToClient(redirectUri: string, params: Record<string, string | undefined>): Response {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(key, value);
  return new Response(null, {
    status: 303,
    headers: { Location: url.href, "Cache-Control": "no-store" },
  });
}

/** The authorization endpoint, login continuation and consent. */
export function authorizeRoutes(as: AuthorizationServer): Hono {
  const routes = new Hono();
  const login = as.options.login;

  const identify = async (c: Context): Promise<(User & { authTime?: number }) | undefined> =>
    login.identify ? await login.identify(c) : readLoginCookie(c, await as.secret());

  const kit: LoginKit = {
    store: as.store,
    sealer: () => as.sealer(),
    issuer: (c) => as.issuer(c),
    pending: (id) => as.store.get<PendingAuthorization>(pendingKey(id)),
    async complete(c, user, pendingId) {
      await setLoginCookie(c, user, await as.secret(), as.options.loginTtlSeconds ?? 12 * 3600);
      return c.redirect(`/authorize?request_id=${encodeURIComponent(pendingId)}`, 303);
    },
  };

  const issueCode = async (
    c: Context,
    pending: PendingAuthorization,
    user: User & { authTime?: number },
  ) => {
    const grant = {
      gid: randomToken(16),
      subject: user.subject,
      clientId: pending.clientId,
      scope: pending.scope,
      resource: pending.resource,
      ...(user.authTime === undefined ? {} : { authTime: user.authTime }),
    };
    const code = await as.tokens.issueCode(
      grant,
      { uri: pending.redirectUri, sent: pending.redirectUriSent },
      pending.codeChallenge,
    );
    return backToClient(pending.redirectUri, { code, state: pending.state, iss: as.issuer(c) });
  };

  /** Carries a validated request on: sign-in, then remembered or fresh consent. */
  const proceed = async (c: Context, pending: PendingAuthorization): Promise<Response> => {
    const user = await identify(c);
    if (!user) return login.challenge(c, pending, kit);
    // Once a user is bound to a request, nobody else may pick it up by its id: the page
    // shown would hand them the request's CSRF token.
    if (pending.subject !== undefined && pending.subject !== user.subject) {
      return errorPage(
        c,
        403,
        "Request refused",
        "This sign-in request belongs to someone else. Start again from the application.",
      );
    }
    if (pending.subject !== user.subject) {
      pending.subject = user.subject;
      await as.store.set(pendingKey(pending.id), pending, { ttlMs: PENDING_TTL_MS });
    }
    const remembered = await as.store.get<string[]>(
      consentKey(user.subject, pending.clientId, pending.resource),
    );
    const wanted = pending.scope.split(" ").filter(Boolean);
    if (remembered && wanted.every((scope) => remembered.includes(scope))) {
      await as.store.delete(pendingKey(pending.id));
      return issueCode(c, pending, user);
    }
    return c.html(
      <ConsentPage pending={pending} userName={user.name ?? user.subject} action="/consent" />,
      200,
      pageHeaders([cspSource(pending.redirectUri)]),
    );
  };

  const start = async (c: Context, params: URLSearchParams): Promise<Response> => {
    await as.rateLimit(c, "authorize");
    const resumeId = params.get("request_id");
    if (resumeId) {
      const pending = await as.store.get<PendingAuthorization>(pendingKey(resumeId));
      if (!pending)
        return errorPage(
          c,
          400,
          "Request expired",
          "This sign-in request has expired. Start again from the application.",
        );
      return proceed(c, pending);
    }
    for (const name of [
      "client_id",
      "redirect_uri",
      "response_type",
      "code_challenge",
      "code_challenge_method",
      "state",
      "scope",
      "resource",
    ]) {
      if (params.getAll(name).length > 1) {
        return errorPage(
          c,
          400,
          "Invalid request",
          `The parameter ${name} appears more than once.`,
        );
      }
    }
    const clientId = params.get("client_id");
    if (!clientId)
      return errorPage(
        c,
        400,
        "Invalid request",
        "The request does not name a client (client_id).",
      );
    let client: Awaited<ReturnType<AuthorizationServer["client"]>>;
    try {
      client = await as.client(clientId);
    } catch (error) {
      const reason =
        error instanceof OAuthError ? error.message : "The client could not be verified.";
      return errorPage(c, 400, "Unknown application", reason);
    }
    if (!client)
      return errorPage(
        c,
        400,
        "Unknown application",
        "No application is registered with this client_id.",
      );
    const presented = params.get("redirect_uri");
    const redirectUri =
      presented ?? (client.redirect_uris.length === 1 ? client.redirect_uris[0] : undefined);
    if (
      !redirectUri ||
      !client.redirect_uris.some((registered) => redirectUriMatches(redirectUri, registered))
    ) {
      return errorPage(
        c,
        400,
        "Invalid redirect",
        "The redirect_uri is not registered for this application.",
      );
    }

    // From here on, errors go back to the client.
    const issuer = as.issuer(c);
    const state = params.get("state") ?? undefined;
    const fail = (error: string, description: string) =>
      backToClient(redirectUri, { error, error_description: description, state, iss: issuer });
    if (params.get("response_type") !== "code")
      return fail("unsupported_response_type", "Only response_type=code is supported");
    if (!client.grant_types.includes("authorization_code")) {
      return fail("unauthorized_client", "This client may not use the authorization code grant");
    }
    const challenge = params.get("code_challenge");
    if (!challenge)
      return fail("invalid_request", "PKCE is required: send code_challenge with S256");
    if (params.get("code_challenge_method") !== "S256") {
      return fail("invalid_request", "code_challenge_method must be S256");
    }
    if (!/^[A-Za-z0-9_-]{43}$/.test(challenge))
      return fail("invalid_request", "code_challenge is malformed");
    let scope: string;
    let resource: string;
    try {
      scope = as.grantScope(params.get("scope"), client);
      resource = as.audience(params.get("resource") ?? undefined, issuer);
    } catch (error) {
      if (error instanceof OAuthError) return fail(error.code, error.message);
      throw error;
    }
    const pending: PendingAuthorization = {
      id: randomToken(24),
      clientId: client.client_id,
      clientName: client.client_name ?? client.client_id,
      clientSource: client.source,
      redirectUri,
      redirectUriSent: presented !== null,
      state,
      scope,
      resource,
      codeChallenge: challenge,
      csrf: randomToken(24),
    };
    await as.store.set(pendingKey(pending.id), pending, { ttlMs: PENDING_TTL_MS });
    return proceed(c, pending);
  };

  routes.get("/authorize", (c) => start(c, new URL(c.req.url).searchParams));
  routes.post("/authorize", async (c) => start(c, new URLSearchParams(await c.req.text())));

  routes.post("/consent", async (c) => {
    const form = new URLSearchParams(await c.req.text());
    const id = form.get("request_id") ?? "";
    const pending = id ? await as.store.get<PendingAuthorization>(pendingKey(id)) : undefined;
    const user = await identify(c);
    if (
      !pending ||
      !user ||
      pending.subject !== user.subject ||
      !timingSafeEqual(form.get("csrf") ?? "", pending.csrf)
    ) {
      return errorPage(
        c,
        403,
        "Request refused",
        "This consent form is invalid or expired. Start again from the application.",
      );
    }
    // Single use: a second submission of the same form finds nothing.
    if ((await as.store.take(pendingKey(id))) === undefined) {
      return errorPage(c, 403, "Request refused", "This consent form was already used.");
    }
    if (form.get("decision") !== "allow") {
      return backToClient(pending.redirectUri, {
        error: "access_denied",
        error_description: "The user denied the request",
        state: pending.state,
        iss: as.issuer(c),
      });
    }
    const days = as.options.rememberConsentDays ?? 30;
    if (days > 0) {
      await as.store.set(
        consentKey(user.subject, pending.clientId, pending.resource),
        pending.scope.split(" ").filter(Boolean),
        { ttlMs: days * 86_400_000 },
      );
    }
    return issueCode(c, pending, user);
  });

  if (login.routes) {
    routes.route(`/login/${login.name}`, login.routes(kit));
  }
  return routes;
}
