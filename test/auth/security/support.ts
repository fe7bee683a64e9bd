/**
 * Shared fixtures for the security suite: a real authorization server and MCP endpoint on
 * loopback, a Store that records what was written (so a test can prove a refused request
 * issued or changed nothing), and the steps of the authorization code flow.
 */
import { expect } from "vitest";
import { createDemoServer } from "../../../examples/demo/server.ts";
import {
  type AuthorizationServer,
  type AuthorizationServerOptions,
  authorizationServer,
  type ConfiguredClient,
  devLogin,
} from "../../../src/auth/index.ts";
import { mcpApp } from "../../../src/index.ts";
import { memoryStore, type Store } from "../../../src/storage/index.ts";
import { manualClock } from "../../helpers/clock.ts";
import { initializeRequest, listen, post } from "../../helpers/http.ts";
import { Browser, form, pkce } from "../../helpers/oauth.ts";

export { Browser, form, manualClock, pkce };

export const REDIRECT_URI = "http://127.0.0.1:9/callback";

/**
 * A resolver that places every name on a public address. Names are resolved by default and
 * this machine has no DNS; tests whose documents come from a fake fetch pass this.
 */
export const publicDns = async (): Promise<string[]> => ["93.184.216.34"];

/** A memoryStore that remembers every key a write succeeded on, in order. */
export interface RecordingStore extends Store {
  readonly writes: string[];
  /** How many successful writes went to keys starting with `prefix`. */
  written(prefix: string): number;
}

export function recordingStore(): RecordingStore {
  const inner = memoryStore();
  const writes: string[] = [];
  return {
    writes,
    written: (prefix) => writes.filter((key) => key.startsWith(prefix)).length,
    get: (key) => inner.get(key),
    async set(key, value, options) {
      await inner.set(key, value, options);
      writes.push(key);
    },
    async add(key, value, options) {
      const added = await inner.add(key, value, options);
      if (added) writes.push(key);
      return added;
    },
    delete: (key) => inner.delete(key),
    take: (key) => inner.take(key),
    async compareAndSet(key, expected, next, options) {
      const swapped = await inner.compareAndSet(key, expected, next, options);
      if (swapped) writes.push(key);
      return swapped;
    },
    async addMember(key, member, options) {
      await inner.addMember(key, member, options);
      writes.push(key);
    },
    removeMember: (key, member) => inner.removeMember(key, member),
    members: (key) => inner.members(key),
    async increment(key, by, options) {
      const count = await inner.increment(key, by, options);
      writes.push(key);
      return count;
    },
  } as RecordingStore;
}

/** Store key prefixes of what the authorization server issues. */
export const KEYS = {
  client: "as:client:",
  pending: "as:pending:",
  code: "as:code:",
  refresh: "as:rt:",
  revoked: "as:revoked:",
  consent: "as:consent:",
} as const;

export interface TestServer {
  base: string;
  mcp: string;
  store: RecordingStore;
  as: AuthorizationServer;
}

/**
 * The demo notes server behind a fresh authorization server with dev login, served on
 * loopback. Options override the authorization server's.
 */
export async function startServer(
  options: Partial<AuthorizationServerOptions> = {},
): Promise<TestServer> {
  const store = recordingStore();
  const as = authorizationServer({
    store,
    login: devLogin(),
    scopes: ["notes:read", "notes:write"],
    ...options,
  });
  const app = mcpApp(createDemoServer(), { path: "/mcp", sessions: true, auth: as });
  const base = await listen(app);
  return { base, mcp: `${base}/mcp`, store, as };
}

/** Reads an OAuth error response and checks its status, `error` code and no-store. */
export async function expectOAuthError(
  response: Response,
  status: number,
  error: string,
): Promise<{ error: string; error_description?: string }> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/json");
  const body = JSON.parse(text) as { error: string; error_description?: string };
  expect(body.error).toBe(error);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return body;
}

/** Checks a 303 back to the client carrying an error, `iss` (RFC 9207) and the state. */
export function expectErrorRedirect(
  response: Response,
  server: { base: string },
  expected: { error: string; redirectUri?: string; state?: string },
): URL {
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get("location")!);
  expect(`${location.origin}${location.pathname}`).toBe(expected.redirectUri ?? REDIRECT_URI);
  expect(location.searchParams.get("error")).toBe(expected.error);
  expect(location.searchParams.get("iss")).toBe(server.base);
  expect(location.searchParams.get("code")).toBeNull();
  if (expected.state !== undefined) expect(location.searchParams.get("state")).toBe(expected.state);
  return location;
}

/** Checks that /authorize answered with our own error page, not a redirect anywhere. */
export async function expectErrorPage(response: Response, status = 400): Promise<string> {
  const html = await response.text();
  expect(response.status).toBe(status);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("content-type")).toContain("text/html");
  expect(response.headers.get("x-frame-options")).toBe("DENY");
  return html;
}

export function register(base: string, metadata: Record<string, unknown>): Promise<Response> {
  return fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(metadata),
  });
}

/** Registers a public client (dev-login flows) and returns its id. */
export async function registerPublic(
  base: string,
  metadata: Record<string, unknown> = {},
): Promise<string> {
  const response = await register(base, {
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: "none",
    client_name: "Test Client",
    ...metadata,
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { client_id: string }).client_id;
}

/** Registers a confidential client and returns its id and secret. */
export async function registerConfidential(
  base: string,
  metadata: Record<string, unknown> = {},
): Promise<{ clientId: string; secret: string }> {
  const response = await register(base, {
    redirect_uris: [REDIRECT_URI],
    client_name: "Confidential Client",
    ...metadata,
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { client_id: string; client_secret: string };
  expect(body.client_secret).toBeTruthy();
  return { clientId: body.client_id, secret: body.client_secret };
}

/** The configured machine client of `machineClient()`. */
export const MACHINE = {
  clientId: "nightly-job",
  secret: "a-machine-secret-of-sufficient-length-0123",
} as const;

/**
 * A client configured for client_credentials (only configured clients may use it), with the
 * scope notes:read unless `overrides` says otherwise. Pass it in `startServer({ clients })`.
 */
export function machineClient(overrides: Partial<ConfiguredClient> = {}): ConfiguredClient {
  return {
    client_id: MACHINE.clientId,
    client_secret: MACHINE.secret,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    scope: "notes:read",
    ...overrides,
  };
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)}`;
}

/** Posts a form to the token (or another) endpoint. */
export function postForm(
  url: string,
  values: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  const init = form(values);
  return fetch(url, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), ...headers },
  });
}

export interface AuthorizeParams {
  clientId: string;
  challenge: string;
  redirectUri?: string;
  scope?: string;
  resource?: string;
  state?: string;
  extra?: Record<string, string>;
}

export function authorizeUrl(server: TestServer, params: AuthorizeParams): string {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: params.clientId,
    redirect_uri: params.redirectUri ?? REDIRECT_URI,
    code_challenge: params.challenge,
    code_challenge_method: "S256",
    state: params.state ?? "xyz",
    resource: params.resource ?? server.mcp,
  });
  if (params.scope !== undefined) query.set("scope", params.scope);
  for (const [key, value] of Object.entries(params.extra ?? {})) query.set(key, value);
  return `${server.base}/authorize?${query}`;
}

const isLoginPage = (html: string) => html.includes('name="username"');
const isConsentPage = (html: string) => html.includes('name="decision"') || html.includes("Allow");

/**
 * Opens /authorize in the browser and signs in with dev login when asked to. Returns the
 * response that follows sign-in: the consent page (200) or a redirect (303), with its body.
 */
export async function openAuthorize(
  browser: Browser,
  server: TestServer,
  params: AuthorizeParams,
  user = "alice",
): Promise<{ response: Response; html: string }> {
  let response = await browser.fetch(authorizeUrl(server, params));
  let html = response.status === 200 ? await response.text() : "";
  if (response.status === 200 && isLoginPage(html)) {
    response = await browser.submit(server.base, html, { username: user });
    expect(response.status).toBe(303);
    response = await browser.fetch(new URL(response.headers.get("location")!, server.base).href);
    html = response.status === 200 ? await response.text() : "";
  }
  return { response, html };
}

/** Walks authorize, login and consent (allow); returns the code from the redirect. */
export async function authorize(
  server: TestServer,
  params: AuthorizeParams,
  options: { browser?: Browser; user?: string } = {},
): Promise<{ code: string; location: URL }> {
  const browser = options.browser ?? new Browser();
  let { response, html } = await openAuthorize(browser, server, params, options.user);
  if (response.status === 200) {
    expect(isConsentPage(html)).toBe(true);
    response = await browser.submit(server.base, html, { decision: "allow" });
  }
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get("location")!);
  const code = location.searchParams.get("code");
  expect(code, location.href).toBeTruthy();
  return { code: code!, location };
}

export interface Flow {
  clientId: string;
  code: string;
  verifier: string;
  redirectUri: string;
}

/** Registers a public client and gets a code for it. */
export async function codeFlow(
  server: TestServer,
  options: { scope?: string; resource?: string; user?: string; browser?: Browser } = {},
): Promise<Flow> {
  const clientId = await registerPublic(server.base);
  const { verifier, challenge } = await pkce();
  const params: AuthorizeParams = { clientId, challenge };
  if (options.scope !== undefined) params.scope = options.scope;
  if (options.resource !== undefined) params.resource = options.resource;
  const browserOptions: { browser?: Browser; user?: string } = {};
  if (options.browser) browserOptions.browser = options.browser;
  if (options.user) browserOptions.user = options.user;
  const { code } = await authorize(server, params, browserOptions);
  return { clientId, code, verifier, redirectUri: REDIRECT_URI };
}

/** The token request that redeems a flow's code as its client would. */
export function redeem(
  server: TestServer,
  flow: Flow,
  overrides: Record<string, string | undefined> = {},
): Promise<Response> {
  const values: Record<string, string | undefined> = {
    grant_type: "authorization_code",
    code: flow.code,
    code_verifier: flow.verifier,
    client_id: flow.clientId,
    redirect_uri: flow.redirectUri,
    ...overrides,
  };
  const defined = Object.fromEntries(
    Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  return postForm(`${server.base}/token`, defined);
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
  token_type: string;
  expires_in: number;
}

export async function tokensOf(response: Response): Promise<Tokens> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return JSON.parse(text) as Tokens;
}

/** A whole flow: a code, redeemed. */
export async function tokenFlow(
  server: TestServer,
  options: { scope?: string; resource?: string; user?: string } = {},
): Promise<Flow & { tokens: Tokens }> {
  const flow = await codeFlow(server, options);
  return { ...flow, tokens: await tokensOf(await redeem(server, flow)) };
}

export function refresh(
  server: TestServer,
  clientId: string,
  refreshToken: string,
  extra: Record<string, string> = {},
): Promise<Response> {
  return postForm(`${server.base}/token`, {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: clientId,
    ...extra,
  });
}

/** Sends `initialize` to the MCP endpoint with a token; the response (body read). */
export async function callMcp(
  url: string,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await post(url, initializeRequest(), {
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...headers,
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Whether a token is accepted by the MCP endpoint (200 on initialize) or refused (401). */
export async function mcpStatus(server: TestServer, token: string): Promise<number> {
  return (await callMcp(server.mcp, token)).status;
}

/** Checks an RFC 6750 401 from the resource server. */
export function expectInvalidToken(
  reply: { status: number; headers: Headers; text: string },
  server: TestServer,
): void {
  expect(reply.status).toBe(401);
  const challenge = reply.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain('error="invalid_token"');
  expect(challenge).toContain(
    `resource_metadata="${server.base}/.well-known/oauth-protected-resource/mcp"`,
  );
  expect(JSON.parse(reply.text)).toMatchObject({ error: "invalid_token" });
}
