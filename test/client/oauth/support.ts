/**
 * Shared pieces of the OAuth authorizer tests: our demo behind the built-in authorization
 * server, a headless "person" that signs in through its dev login and consent pages, a
 * recording fetch, and a tiny auto-approving authorization server on raw Hono for servers
 * that misbehave.
 */
import { Hono } from "hono";
import { expect } from "vitest";
import type { RedirectHandler } from "../../../src/client/index.ts";
import { headlessRedirect } from "../../../src/client/index.ts";
import { mcpApp } from "../../../src/index.ts";
import { listen } from "../../helpers/http.ts";
import { Browser } from "../../helpers/oauth.ts";
import { richServer } from "../support.ts";

/** Serves an app on localhost (the dev login only serves a localhost issuer). */
export async function serveOnLocalhost(app: Hono): Promise<string> {
  return (await listen(app)).replace("127.0.0.1", "localhost");
}

/** One request as the server side of a recording fetch saw it. */
export interface Seen {
  method: string;
  url: URL;
  status: number;
  authorization: string | null;
  /** Form fields of a urlencoded body. */
  form?: URLSearchParams;
  /** A JSON body. */
  json?: unknown;
}

/** A fetch that records every request it makes (and the status that came back). */
export function recordingFetch(seen: Seen[], inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const entry: Seen = {
      method: request.method,
      url: new URL(request.url),
      status: 0,
      authorization: request.headers.get("authorization"),
    };
    if (request.method === "POST") {
      const text = await request.clone().text();
      const type = request.headers.get("content-type") ?? "";
      if (type.includes("x-www-form-urlencoded")) entry.form = new URLSearchParams(text);
      else if (type.includes("json") && text) entry.json = JSON.parse(text);
    }
    seen.push(entry);
    const response = await inner(input, init);
    entry.status = response.status;
    return response;
  };
}

export const tokenRequests = (seen: Seen[]) =>
  seen.filter((s) => s.url.pathname.endsWith("/token")).map((s) => s.form?.get("grant_type"));

/**
 * A person in a browser, for the authorizer's headless redirect handler: follows the
 * authorization URL through our dev login and consent pages and returns where the server
 * sends the browser back (the redirect URI itself is never contacted).
 */
export function devLoginRedirect(
  base: string,
  options: { user?: string; narrowScope?: () => string | undefined } = {},
): { redirect: RedirectHandler; authorizations: URL[] } {
  const browser = new Browser();
  const authorizations: URL[] = [];
  const redirect = headlessRedirect(async (url) => {
    authorizations.push(new URL(url));
    return signInWithDevLogin(base, String(url), { ...options, browser });
  });
  return { redirect, authorizations };
}

/**
 * Drives one authorization URL of the built-in AS through dev login and consent, as a user
 * in a browser would, and resolves with where the AS sends the browser back (the client's
 * redirect URI with the code), without following it.
 */
export async function signInWithDevLogin(
  base: string,
  url: string,
  options: { user?: string; narrowScope?: () => string | undefined; browser?: Browser } = {},
): Promise<string> {
  const browser = options.browser ?? new Browser();
  const target = new URL(url);
  const narrowed = options.narrowScope?.();
  // Our consent page grants all or nothing: narrowing is done on the way to the server.
  if (narrowed !== undefined) target.searchParams.set("scope", narrowed);
  let response = await browser.fetch(target.href);
  for (let step = 0; step < 5 && response.status !== 303; step++) {
    expect(response.status).toBe(200);
    const html = await response.text();
    response = html.includes('name="username"')
      ? await browser.submit(base, html, { username: options.user ?? "alice" })
      : await browser.submit(base, html, { decision: "allow" });
    const location = response.headers.get("location");
    if (response.status === 303 && location && new URL(location, base).origin === base) {
      response = await browser.fetch(new URL(location, base).href);
    }
  }
  expect(response.status).toBe(303);
  return response.headers.get("location")!;
}

export interface FakeAuthServerOptions {
  /** Changes to the metadata document (undefined values remove members), given the base URL. */
  metadata?: Record<string, unknown> | ((base: string) => Record<string, unknown>);
  /** Send `iss` in authorization responses. Default true. */
  sendIss?: boolean;
}

/**
 * A minimal authorization server on raw Hono that approves everything at once: metadata at
 * the root, registration, an authorize endpoint that redirects straight back with a code,
 * and a token endpoint that issues `tok-<n>` with the scope asked for. It records requests.
 */
export function fakeAuthServer(
  baseOf: () => string,
  options: FakeAuthServerOptions = {},
): {
  app: Hono;
  requests: string[];
  /** The Authorization header of each request, in order. */
  authorizations: (string | undefined)[];
  issued: { token: string; scope: string }[];
  /** The form of every token request. */
  tokenForms: URLSearchParams[];
} {
  const app = new Hono();
  const tokenForms: URLSearchParams[] = [];
  const requests: string[] = [];
  const authorizations: (string | undefined)[] = [];
  const issued: { token: string; scope: string }[] = [];
  const codes = new Map<string, string>();
  app.use(async (c, next) => {
    requests.push(`${c.req.method} ${new URL(c.req.url).pathname}`);
    authorizations.push(c.req.header("authorization"));
    await next();
  });
  app.get("/.well-known/oauth-authorization-server", (c) => {
    const base = baseOf();
    const document: Record<string, unknown> = {
      issuer: base,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      registration_endpoint: `${base}/register`,
      response_types_supported: ["code"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["none"],
      authorization_response_iss_parameter_supported: options.sendIss !== false,
    };
    const changes =
      typeof options.metadata === "function" ? options.metadata(base) : (options.metadata ?? {});
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) delete document[key];
      else document[key] = value;
    }
    return c.json(document);
  });
  app.post("/register", async (c) => {
    const body = (await c.req.json()) as Record<string, unknown>;
    // Ids unique across servers, so a test can tell whose client an id is.
    const clientId = `client-${new URL(baseOf()).port}-${requests.length}`;
    const confidential = body.token_endpoint_auth_method !== "none";
    return c.json(
      {
        ...body,
        client_id: clientId,
        ...(confidential && { client_secret: `secret-of-${clientId}` }),
      },
      201,
    );
  });
  app.get("/authorize", (c) => {
    const query = new URL(c.req.url).searchParams;
    const code = `code-${codes.size + 1}`;
    codes.set(code, query.get("scope") ?? "");
    const back = new URL(query.get("redirect_uri")!);
    back.searchParams.set("code", code);
    back.searchParams.set("state", query.get("state") ?? "");
    if (options.sendIss !== false) back.searchParams.set("iss", baseOf());
    return c.redirect(back.href, 302);
  });
  app.post("/token", async (c) => {
    const form = new URLSearchParams(await c.req.text());
    tokenForms.push(form);
    const scope =
      form.get("grant_type") === "authorization_code"
        ? (codes.get(form.get("code") ?? "") ?? "")
        : (form.get("scope") ?? "");
    const token = `tok-${issued.length + 1}`;
    issued.push({ token, scope });
    return c.json({ access_token: token, token_type: "Bearer", expires_in: 3600, scope });
  });
  return { app, requests, authorizations, issued, tokenForms };
}

/**
 * A protected MCP server on raw Hono: our rich server behind a gate that takes any bearer
 * token the fake authorization server issued, with resource metadata naming `issuer()`.
 * `gate` may answer instead (to misbehave); it sees the token (or undefined).
 */
export function gatedServer(
  baseOf: () => string,
  issuerOf: () => string,
  options: {
    /** The resource metadata document, given the server's and the issuer's base URLs. */
    prm?: (base: string, issuer: string) => unknown;
    gate?: (token: string | undefined, method: string | undefined) => Response | undefined;
    seenTokens?: (string | undefined)[];
  } = {},
): Hono {
  const { mcp } = richServer();
  const app = new Hono();
  const metadataUrl = () => `${baseOf()}/.well-known/oauth-protected-resource/mcp`;
  app.get("/.well-known/oauth-protected-resource/mcp", (c) =>
    c.json(
      (options.prm?.(baseOf(), issuerOf()) ?? {
        resource: `${baseOf()}/mcp`,
        authorization_servers: [issuerOf()],
      }) as Record<string, unknown>,
    ),
  );
  app.use("/mcp", async (c, next) => {
    const token = c.req.header("authorization")?.replace(/^Bearer /, "");
    options.seenTokens?.push(token);
    let method: string | undefined;
    if (c.req.method === "POST") {
      const body = (await c.req.raw.clone().json()) as { method?: string };
      method = body.method;
    }
    const answer = options.gate?.(token, method);
    if (answer) return answer;
    if (!token) {
      return c.json({ error: "invalid_token" }, 401, {
        "WWW-Authenticate": `Bearer resource_metadata="${metadataUrl()}"`,
      });
    }
    await next();
  });
  app.route("/", mcpApp(mcp));
  return app;
}

/** Two servers whose URLs are only known once both listen. */
export function lateBase(): { get: () => string; set: (url: string) => void } {
  let base = "";
  return {
    get: () => base,
    set: (url) => {
      base = url;
    },
  };
}
