/**
 * A stand-in for GitHub on loopback, behaving as GitHub's OAuth does where it differs from the
 * RFCs: no discovery and no ID token; the secret in the body; errors of the token endpoint
 * answered 200 with an `error` body (bad_verification_code, bad_refresh_token); expiring user
 * tokens with rotating refresh tokens (GitHub Apps); the user from the REST API's `/user`.
 * Its "REST API" (/api/v3) accepts only each user's current, unexpired access token. It keeps
 * time by the test's clock, and counts what happened so tests can assert on it.
 */
import { Hono } from "hono";
import { expect } from "vitest";
import {
  type AuthorizationServer,
  authorizationServer,
  githubOAuth,
} from "../../src/auth/index.ts";
import { McpServer, mcpApp, ToolError } from "../../src/index.ts";
import type { Store } from "../../src/storage/index.ts";
import type { Clock } from "../../src/util/clock.ts";
import type { ManualClock } from "./clock.ts";
import { listen, post } from "./http.ts";
import { Browser, form, pkce } from "./oauth.ts";

export interface GitHubUser {
  id: number;
  login: string;
  name: string;
  email: string;
}

interface Issued {
  login: string;
  access: string;
  refresh: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface FakeGitHub {
  app: Hono;
  /** Refresh requests answered with new tokens. */
  refreshes: number;
  /** Refresh requests received, refused ones included. */
  refreshRequests: number;
  /** Refuse every refresh from now on, as when the user revoked the app. */
  refuseRefresh: boolean;
  /** Holds refresh answers until the returned function is called. */
  holdRefreshes(): () => void;
  /** Calls to the REST API, with the status each got. */
  apiCalls: number[];
  /** The bearer token each call to the REST API presented, in order. */
  apiTokens: string[];
  /** A user's current access token. */
  currentToken(login: string): string | undefined;
}

const json = (body: unknown) =>
  new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

export function fakeGitHub(options: {
  clientId: string;
  clientSecret: string;
  clock: Clock;
  users: GitHubUser[];
  accessTtlSeconds?: number;
}): FakeGitHub {
  const ttlMs = (options.accessTtlSeconds ?? 8 * 3600) * 1000;
  const requests = new Map<string, { redirectUri: string; state: string; challenge: string }>();
  const codes = new Map<string, { login: string; redirectUri: string; challenge: string }>();
  const byLogin = new Map<string, Issued>();
  const byRefresh = new Map<string, Issued>();
  let counter = 0;
  const token = (prefix: string) =>
    `${prefix}_${(++counter).toString(36)}${crypto.randomUUID().replaceAll("-", "")}`;
  let gate: Promise<void> | undefined;

  const issue = (login: string) => {
    const previous = byLogin.get(login);
    if (previous) byRefresh.delete(previous.refresh);
    const issued: Issued = {
      login,
      access: token("ghu"),
      refresh: token("ghr"),
      expiresAt: options.clock() + ttlMs,
    };
    byLogin.set(login, issued);
    byRefresh.set(issued.refresh, issued);
    return json({
      access_token: issued.access,
      expires_in: ttlMs / 1000,
      refresh_token: issued.refresh,
      refresh_token_expires_in: 15_811_200,
      scope: "",
      token_type: "bearer",
    });
  };

  const github: FakeGitHub = {
    app: new Hono(),
    refreshes: 0,
    refreshRequests: 0,
    refuseRefresh: false,
    apiCalls: [],
    apiTokens: [],
    holdRefreshes() {
      let release = () => {};
      gate = new Promise((resolve) => {
        release = () => {
          gate = undefined;
          resolve();
        };
      });
      return release;
    },
    currentToken: (login) => byLogin.get(login)?.access,
  };
  const app = github.app;

  app.get("/login/oauth/authorize", (c) => {
    const url = new URL(c.req.url);
    const q = (name: string) => url.searchParams.get(name) ?? "";
    if (q("client_id") !== options.clientId) return c.text("Unknown application", 404);
    if (q("code_challenge_method") !== "S256" || !q("code_challenge"))
      return c.text("PKCE required", 400);
    const id = token("req");
    requests.set(id, {
      redirectUri: q("redirect_uri"),
      state: q("state"),
      challenge: q("code_challenge"),
    });
    return c.html(
      `<form method="post" action="/session"><input name="request" value="${id}"><input name="login" value=""><button>Authorize</button></form>`,
    );
  });

  app.post("/session", async (c) => {
    const body = await c.req.parseBody();
    const request = requests.get(String(body.request));
    const login = String(body.login);
    if (!request || !options.users.some((user) => user.login === login))
      return c.text("Incorrect username or password.", 401);
    requests.delete(String(body.request));
    const code = token("code");
    codes.set(code, { login, redirectUri: request.redirectUri, challenge: request.challenge });
    const back = new URL(request.redirectUri);
    back.searchParams.set("code", code);
    back.searchParams.set("state", request.state);
    return c.redirect(back.href, 302);
  });

  app.post("/login/oauth/access_token", async (c) => {
    const body = await c.req.parseBody();
    const field = (name: string) => (typeof body[name] === "string" ? (body[name] as string) : "");
    if (field("client_id") !== options.clientId || field("client_secret") !== options.clientSecret)
      return json({ error: "incorrect_client_credentials" });
    if (field("grant_type") === "refresh_token") {
      github.refreshRequests++;
      if (gate) await gate;
      const issued = byRefresh.get(field("refresh_token"));
      if (github.refuseRefresh || !issued) {
        return json({
          error: "bad_refresh_token",
          error_description: "The refresh token passed is incorrect or expired.",
        });
      }
      github.refreshes++;
      return issue(issued.login);
    }
    const code = codes.get(field("code"));
    codes.delete(field("code"));
    const digest = await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(field("code_verifier")),
    );
    if (
      !code ||
      code.redirectUri !== field("redirect_uri") ||
      Buffer.from(digest).toString("base64url") !== code.challenge
    )
      return json({ error: "bad_verification_code" });
    return issue(code.login);
  });

  /** The user whose current, unexpired token the request carries. */
  const caller = (authorization: string | undefined) => {
    const presented = /^Bearer (.+)$/i.exec(authorization ?? "")?.[1];
    for (const issued of byLogin.values()) {
      if (issued.access === presented && options.clock() < issued.expiresAt)
        return options.users.find((user) => user.login === issued.login);
    }
    return undefined;
  };
  app.use("/api/v3/*", async (c, next) => {
    const user = caller(c.req.header("authorization"));
    github.apiCalls.push(user ? 200 : 401);
    github.apiTokens.push(/^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "");
    if (!user) return c.json({ message: "Bad credentials" }, 401);
    c.set("user" as never, user as never);
    await next();
  });
  app.get("/api/v3/user", (c) => c.json(c.get("user" as never)));
  app.get("/api/v3/user/repos", (c) => {
    const user = c.get("user" as never) as GitHubUser;
    return c.json([{ full_name: `${user.login}/hello-world`, private: false }]);
  });
  return github;
}

/**
 * Signs a user in as a person would: our /authorize, GitHub's sign-in form, our callback and
 * consent; then redeems the code. Returns our tokens (never GitHub's).
 */
export async function signInWithGitHub(
  base: string,
  login: string,
  browser = new Browser(),
): Promise<{ access_token: string; refresh_token: string; clientId: string }> {
  const redirectUri = "http://127.0.0.1:9/callback";
  const registered = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
      client_name: "GitHub Tools Client",
    }),
  });
  expect(registered.status).toBe(201);
  const { client_id: clientId } = (await registered.json()) as { client_id: string };
  const { verifier, challenge } = await pkce();
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "s",
    resource: `${base}/mcp`,
  });
  let response = await browser.fetch(`${base}/authorize?${query}`);
  expect(response.status).toBe(303);
  const upstream = response.headers.get("location")!;
  expect(new URL(upstream).pathname).toBe("/login/oauth/authorize");
  response = await browser.fetch(upstream);
  expect(response.status).toBe(200);
  response = await browser.submit(upstream, await response.text(), { login });
  expect(response.status).toBe(302);
  const callback = new URL(response.headers.get("location")!);
  expect(`${callback.origin}${callback.pathname}`).toBe(`${base}/login/github/callback`);
  response = await browser.fetch(callback.href);
  expect(response.status, await response.clone().text()).toBe(303);
  response = await browser.fetch(new URL(response.headers.get("location")!, base).href);
  if (response.status === 200) {
    response = await browser.submit(base, await response.text(), { decision: "allow" });
  }
  expect(response.status).toBe(303);
  const code = new URL(response.headers.get("location")!).searchParams.get("code");
  expect(code).toBeTruthy();
  const tokens = await fetch(
    `${base}/token`,
    form({
      grant_type: "authorization_code",
      code: code!,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: redirectUri,
      resource: `${base}/mcp`,
    }),
  );
  expect(tokens.status).toBe(200);
  return {
    ...((await tokens.json()) as { access_token: string; refresh_token: string }),
    clientId,
  };
}

/** Two instances of one deployment (own AS object, McpServer and app each) behind one origin. */
export interface GitHubToolsDeployment {
  base: string;
  github: FakeGitHub;
  servers: AuthorizationServer[];
}

export const GITHUB_CLIENT = {
  clientId: "Iv1.portcullis-test",
  clientSecret: "github-app-secret-0123456789",
};
/** How long the stand-in's access tokens live. */
export const UPSTREAM_TTL_SECONDS = 1800;

export const OCTOCAT: GitHubUser = {
  id: 583231,
  login: "octocat",
  name: "The Octocat",
  email: "octocat@github.test",
};

/**
 * An MCP server whose tool calls the GitHub stand-in as the user, deployed twice on one Store
 * behind a round-robin balancer: request n goes to instance n mod 2.
 */
export async function gitHubToolsDeployment(
  store: Store,
  clock: ManualClock,
  instances = 2,
  /** Replies as one JSON body, never SSE (mcpApp's `jsonResponse`). */
  jsonResponse = false,
): Promise<GitHubToolsDeployment> {
  // GitHub tokens expire before ours (an hour), as a short-lived upstream token would.
  const github = fakeGitHub({
    ...GITHUB_CLIENT,
    clock: clock.now,
    users: [OCTOCAT],
    accessTtlSeconds: UPSTREAM_TTL_SECONDS,
  });
  const githubBase = await listen(github.app);
  const servers: AuthorizationServer[] = [];
  const apps: Hono[] = [];
  for (let i = 0; i < instances; i++) {
    const auth = authorizationServer({
      store,
      clock: clock.now,
      secret: "upstream-tokens-test-secret-0123456789abcdef",
      login: githubOAuth({
        ...GITHUB_CLIENT,
        enterpriseUrl: githubBase,
        allowInsecureRequests: true,
        keepTokens: true,
      }),
      rateLimits: false,
    });
    const mcp = new McpServer({ name: "github-tools", version: "1.0.0" });
    mcp.tool(
      "list_repos",
      { description: "The user's repositories on GitHub" },
      async (_args, ctx) => {
        const token = await ctx.upstream.token();
        const response = await fetch(`${githubBase}/api/v3/user/repos`, {
          headers: { authorization: `Bearer ${token}` },
        });
        if (!response.ok) throw new ToolError(`GitHub answered ${response.status}`);
        return { content: [{ type: "text", text: await response.text() }] };
      },
    );
    servers.push(auth);
    apps.push(mcpApp(mcp, { path: "/mcp", auth, jsonResponse }));
  }
  let next = 0;
  const balancer = new Hono();
  balancer.all("*", (c) => apps[next++ % apps.length]!.fetch(c.req.raw));
  return { base: await listen(balancer), github, servers };
}

/** Calls list_repos (2025-11-25, no session) with our access token. */
export function callListRepos(base: string, accessToken: string, id = 1): Promise<Response> {
  return post(
    `${base}/mcp`,
    { jsonrpc: "2.0", id, method: "tools/call", params: { name: "list_repos", arguments: {} } },
    { authorization: `Bearer ${accessToken}`, "mcp-protocol-version": "2025-11-25" },
  );
}
