/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { randomToken, timingSafeEqual } from "../util/crypto.ts";
import { scopesOf } from "./audit.ts";
import { backToClient, errorPage, expired, someoneElses } from "./authorize-replies.tsx";
import { BODY_LIMITS, readPageForm } from "./body.tsx";
import { identityAssured, rememberConsent, rememberedConsent } from "./consent.ts";
import type { AuthorizationCore } from "./core.ts";
import { OAuthError } from "./errors.ts";
import { identifyUser } from "./identify.ts";
import {
  type LoginKit,
  type PendingAuthorization,
  type SignedInUser,
  setLoginCookie,
} from "./login.ts";
import { ConsentPage, cspSource, pageHeaders } from "./pages.tsx";
import { redirectUriMatches } from "./redirect-uri.ts";

const PENDING_TTL_MS = 10 * 60_000;
const pendingKey = (id: string) => `as:pending:${id}`;

/**
 * The authorization endpoint, login continuation and consent; and `/sign-in`, which signs a
 * user in for one of the server's own pages (`returnPaths`) and sends them back to it.
 */
export function authorizeRoutes(as: AuthorizationCore, returnPaths: readonly string[] = []): Hono {
  const routes = new Hono();
  const login = as.options.login;

  const identify = (c: Context) => identifyUser(as, c);

  /**
   * Binds a stored request to a user's sign-in under a new id and a new form token: the id
   * and token a page showed before (to whoever opened it) are worth nothing from here on.
   * Undefined when the request is gone (expired, or bound by a concurrent request).
   */
  const bind = async (
    pending: PendingAuthorization,
    user: SignedInUser,
  ): Promise<PendingAuthorization | undefined> => {
    if ((await as.store.take(pendingKey(pending.id))) === undefined) return undefined;
    const { session: _previous, ...rest } = pending;
    const bound: PendingAuthorization = {
      ...rest,
      id: randomToken(24),
      csrf: randomToken(24),
      subject: user.subject,
      ...(user.session === undefined ? {} : { session: user.session }),
    };
    await as.store.set(pendingKey(bound.id), bound, { ttlMs: PENDING_TTL_MS });
    return bound;
  };

  /** Who, which client, scopes and resource: what every event about a request says. */
  const about = (pending: PendingAuthorization) => ({
    clientId: pending.clientId,
    scopes: scopesOf(pending.scope),
    resource: pending.resource,
  });

  const failed = (c: Context, reason: string, pending: PendingAuthorization | undefined) =>
    as.audit(c, {
      type: "signin.failed",
      provider: login.name,
      reason,
      ...(pending ? about(pending) : {}),
    });

  const kit: LoginKit = {
    store: as.store,
    sealer: () => as.sealer(),
    issuer: (c) => as.issuer(c),
    pending: (id) => as.store.get<PendingAuthorization>(pendingKey(id)),
    failed(c, reason, pending) {
      failed(c, reason, pending);
    },
    keepUpstreamTokens: async (subject, tokens) => {
      await as.upstream?.keep(subject, tokens);
    },
    async complete(c, user, pendingId) {
      const pending = await as.store.get<PendingAuthorization>(pendingKey(pendingId));
      if (!pending) {
        failed(c, "the sign-in request expired", undefined);
        return expired(c);
      }
      if (pending.subject !== undefined && pending.subject !== user.subject) {
        failed(c, "the sign-in request is bound to another user", pending);
        return someoneElses(c);
      }
      // A new sign-in session: the request is rebound to it, then the login cookie carries it.
      const session = randomToken(16);
      const bound = await bind(pending, { ...user, session });
      if (!bound) {
        failed(c, "the sign-in request expired", pending);
        return expired(c);
      }
      as.audit(c, {
        type: "signin.succeeded",
        subject: user.subject,
        provider: login.name,
        ...about(bound),
      });
      const ttl = as.options.loginTtlSeconds ?? 12 * 3600;
      await setLoginCookie(c, user, await as.secret(), ttl, session, as.clock);
      return c.redirect(`/authorize?request_id=${encodeURIComponent(bound.id)}`, 303);
    },
  };

  const issueCode = async (c: Context, pending: PendingAuthorization, user: SignedInUser) => {
    // Checked here too: the operator may disable a client while its request waits for consent.
    if (await as.grants.isDisabled(pending.clientId)) {
      return backToClient(pending.redirectUri, {
        error: "unauthorized_client",
        error_description: "This client is disabled by the operator",
        state: pending.state,
        iss: as.issuer(c),
      });
    }
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
      pending.dpopJkt,
    );
    as.audit(c, {
      type: "code.issued",
      subject: user.subject,
      grantId: grant.gid,
      ...about(pending),
    });
    return backToClient(pending.redirectUri, { code, state: pending.state, iss: as.issuer(c) });
  };

  /**
   * Carries a request on: sign-in, then remembered or fresh consent. `stored`: whether the
   * request is in the Store already (a resumed one), or new and not yet kept.
   */
  const proceed = async (
    c: Context,
    request: PendingAuthorization,
    stored: boolean,
  ): Promise<Response> => {
    const user = await identify(c);
    if (!user) {
      if (!stored) await as.store.set(pendingKey(request.id), request, { ttlMs: PENDING_TTL_MS });
      return login.challenge(c, request, kit);
    }
    if (request.subject !== undefined && request.subject !== user.subject) return someoneElses(c);
    if (request.returnTo !== undefined) {
      // A sign-in for one of our own pages: nothing to consent to, and nothing to reuse.
      if (stored) await as.store.delete(pendingKey(request.id));
      return c.redirect(request.returnTo, 303);
    }
    let pending = request;
    if (!stored) {
      // Signed in already: the request is born bound, and its id and token are seen only now.
      pending.subject = user.subject;
      if (user.session !== undefined) pending.session = user.session;
    } else if (pending.subject === undefined || pending.session !== user.session) {
      const bound = await bind(pending, user);
      if (!bound) return expired(c);
      pending = bound;
    }
    if (await rememberedConsent(as.store, pending, user.subject)) {
      if (stored && (await as.store.take(pendingKey(pending.id))) === undefined) return expired(c);
      as.audit(c, {
        type: "consent.granted",
        subject: user.subject,
        remembered: true,
        ...about(pending),
      });
      return issueCode(c, pending, user);
    }
    if (!stored) await as.store.set(pendingKey(pending.id), pending, { ttlMs: PENDING_TTL_MS });
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
      return pending ? proceed(c, pending, true) : expired(c);
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
      "dpop_jkt",
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
    let client: Awaited<ReturnType<AuthorizationCore["client"]>>;
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
    if (await as.grants.isDisabled(client.client_id)) {
      return fail("unauthorized_client", "This client is disabled by the operator");
    }
    const challenge = params.get("code_challenge");
    if (!challenge)
      return fail("invalid_request", "PKCE is required: send code_challenge with S256");
    if (params.get("code_challenge_method") !== "S256") {
      return fail("invalid_request", "code_challenge_method must be S256");
    }
    if (!/^[A-Za-z0-9_-]{43}$/.test(challenge))
      return fail("invalid_request", "code_challenge is malformed");
    // RFC 9449 §10: the code is bound to this key; only a proof by it can redeem the code.
    const dpopJkt = as.dpopCheckers ? (params.get("dpop_jkt") ?? undefined) : undefined;
    if (dpopJkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)) {
      return fail("invalid_request", "dpop_jkt must be a JWK SHA-256 thumbprint (base64url)");
    }
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
      ...(dpopJkt !== undefined ? { dpopJkt } : {}),
      csrf: randomToken(24),
      identityAssured: identityAssured(client, redirectUri),
    };
    return proceed(c, pending, false);
  };

  routes.get("/sign-in", async (c) => {
    await as.rateLimit(c, "authorize");
    const returnTo = new URL(c.req.url).searchParams.get("return_to") ?? "";
    // Only our own pages: an open redirect would lend the sign-in to anyone's link.
    if (!returnPaths.includes(returnTo)) {
      return errorPage(c, 400, "Invalid request", "There is no such page to return to.");
    }
    const pending: PendingAuthorization = {
      id: randomToken(24),
      clientId: "",
      clientName: "your account",
      clientSource: "configured",
      redirectUri: `${as.issuer(c)}${returnTo}`,
      redirectUriSent: false,
      state: undefined,
      scope: "",
      resource: "",
      codeChallenge: "",
      csrf: randomToken(24),
      identityAssured: false,
      returnTo,
    };
    return proceed(c, pending, false);
  });

  routes.get("/authorize", (c) => start(c, new URL(c.req.url).searchParams));
  routes.post("/authorize", async (c) => {
    const form = await readPageForm(c, BODY_LIMITS.authorize);
    return form instanceof Response ? form : start(c, form);
  });

  routes.post("/consent", async (c) => {
    await as.rateLimit(c, "consent");
    const form = await readPageForm(c, BODY_LIMITS.form);
    if (form instanceof Response) return form;
    const id = form.get("request_id") ?? "";
    const pending = id ? await as.store.get<PendingAuthorization>(pendingKey(id)) : undefined;
    const user = await identify(c);
    // The token was minted when this user's current sign-in was bound to the request: one
    // shown before sign-in, to another user, for another request or an earlier sign-in fails.
    if (
      !pending ||
      pending.returnTo !== undefined ||
      !user ||
      pending.subject !== user.subject ||
      pending.session !== user.session ||
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
      as.audit(c, { type: "consent.denied", subject: user.subject, ...about(pending) });
      return backToClient(pending.redirectUri, {
        error: "access_denied",
        error_description: "The user denied the request",
        state: pending.state,
        iss: as.issuer(c),
      });
    }
    await rememberConsent(as.store, pending, user.subject, as.options.rememberConsentDays ?? 30);
    as.audit(c, {
      type: "consent.granted",
      subject: user.subject,
      remembered: false,
      ...about(pending),
    });
    return issueCode(c, pending, user);
  });

  if (login.routes) {
    routes.use(`/login/${login.name}/*`, async (c, next) => {
      await as.rateLimit(c, "login");
      await next();
    });
    routes.route(`/login/${login.name}`, login.routes(kit));
  }
  return routes;
}
