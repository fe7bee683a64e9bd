/**
 * The official SDK clients' own OAuth, as an app embeds them: one OAuthClientProvider (the
 * interface of the v1 SDK and of the v2 client) that keeps everything in memory and, where an
 * app would open a browser, hands the authorization URL to a user agent (our headless dev
 * login, or headless Chromium), then reads the callback the authorization server sent back.
 * The SDK does the rest itself: 401, resource metadata, AS metadata, dynamic registration,
 * PKCE, the code exchange and refresh.
 */
import {
  Client as ClientV2,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedV2,
} from "@modelcontextprotocol/client";
import type { OAuthClientProvider as OAuthClientProviderV1 } from "@modelcontextprotocol/sdk/client/auth.js";
import { UnauthorizedError as UnauthorizedV1 } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import { expect } from "vitest";
import { signInWithDevLogin } from "../client/oauth/support.ts";
import { Browser } from "./oauth.ts";

/** Takes the user through an authorization URL; resolves with where the AS sent them back. */
export type UserAgent = (authorization: URL) => Promise<string>;

/** Our dev login and consent pages driven without a browser, signing in as `user`. */
export function devLoginAgent(
  base: string,
  options: { user?: string; grantOnly?: () => string | undefined } = {},
): UserAgent {
  const browser = new Browser();
  return (url) =>
    signInWithDevLogin(base, url.href, {
      browser,
      ...(options.user && { user: options.user }),
      ...(options.grantOnly && { narrowScope: options.grantOnly }),
    });
}

/** A provider for the official clients; `redirectUrl` is never contacted by a headless agent. */
export class SignInProvider implements OAuthClientProvider {
  readonly redirectUrl: string;
  readonly clientMetadata: OAuthClientMetadata;
  /** Every authorization URL the SDK sent the user to. */
  readonly authorizations: URL[] = [];
  /** Every token set the SDK saved, in order. */
  readonly saved: StoredOAuthTokens[] = [];
  /** The query of the last callback (code, state, iss). */
  callback: URLSearchParams | undefined;
  #client: StoredOAuthClientInformation | undefined;
  #tokens: StoredOAuthTokens | undefined;
  #verifier = "";
  #state = "";
  #discovery: OAuthDiscoveryState | undefined;
  readonly #agent: UserAgent;

  constructor(agent: UserAgent, redirectUrl = "http://127.0.0.1:9/callback") {
    this.#agent = agent;
    this.redirectUrl = redirectUrl;
    this.clientMetadata = {
      client_name: "Official SDK App",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  state(): string {
    this.#state = crypto.randomUUID();
    return this.#state;
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.#tokens = tokens;
    this.saved.push(tokens);
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
  // Kept beside the verifier, so the v2 client can check the callback's authorization server.
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.#discovery = state;
  }
  discoveryState() {
    return this.#discovery;
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.#tokens = undefined;
    if (scope === "all" || scope === "client") this.#client = undefined;
  }
  /** Keeps the access token but loses the refresh token (as after the refresh token expired). */
  dropRefreshToken() {
    if (!this.#tokens) return;
    const { refresh_token: _dropped, ...rest } = this.#tokens;
    this.#tokens = rest;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizations.push(new URL(url));
    const back = new URL(await this.#agent(new URL(url)));
    expect(`${back.origin}${back.pathname}`).toBe(this.redirectUrl);
    // The SDKs leave `state` to the app.
    expect(back.searchParams.get("state")).toBe(this.#state);
    this.callback = back.searchParams;
  }

  /** The code of the last callback. */
  get code(): string {
    expect(this.callback?.get("error")).toBeNull();
    const code = this.callback?.get("code");
    expect(code).toBeTruthy();
    return code!;
  }

  /** The access token the SDK holds now. */
  get accessToken(): string {
    expect(this.#tokens?.access_token).toBeTruthy();
    return this.#tokens!.access_token;
  }
}

// The same provider serves the v1 SDK: its interface is the v2 one's older subset.
const asV1: (provider: SignInProvider) => OAuthClientProviderV1 = (provider) => provider;

/**
 * The v1 SDK's documented flow: connecting fails with UnauthorizedError once the user was sent
 * to authorize; the app hands the code to finishAuth, then connects on a new transport.
 */
export async function connectV1(
  url: string,
  provider: SignInProvider,
  fetch: typeof globalThis.fetch,
): Promise<{ client: ClientV1; transport: TransportV1 }> {
  const options = { authProvider: asV1(provider), fetch };
  const first = new TransportV1(new URL(url), options);
  await expect(
    new ClientV1({ name: "sdk-v1-app", version: "1.0.0" }).connect(first),
  ).rejects.toThrow(UnauthorizedV1);
  // RFC 9207: the v1 SDK does not check `iss` itself, so the app (this test) does.
  expect(provider.callback?.get("iss")).toBe(new URL(url).origin);
  await first.finishAuth(provider.code);
  const transport = new TransportV1(new URL(url), options);
  const client = new ClientV1({ name: "sdk-v1-app", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

/**
 * The v2 client's flow, in 2026-07-28 ("auto" negotiation): the same, but finishAuth takes the
 * whole callback query and checks `iss` against the issuer it discovered (RFC 9207).
 */
export async function connectV2(
  url: string,
  provider: SignInProvider,
  fetch: typeof globalThis.fetch,
): Promise<{ client: ClientV2; transport: TransportV2 }> {
  const options = { authProvider: provider, fetch };
  const make = () =>
    new ClientV2(
      { name: "sdk-v2-app", version: "2.0.0" },
      { versionNegotiation: { mode: "auto" } },
    );
  const first = new TransportV2(new URL(url), options);
  await expect(make().connect(first)).rejects.toThrow(UnauthorizedV2);
  await first.finishAuth(provider.callback!);
  const transport = new TransportV2(new URL(url), options);
  const client = make();
  await client.connect(transport);
  return { client, transport };
}

/**
 * Checks a token is the gateway's own: issued by the AS at `url`'s origin, for `audience`
 * (the gateway's endpoint unless told otherwise).
 */
export function expectGatewayToken(token: string, url: string, audience = url): void {
  const claims = decodeJwt(token);
  expect(claims.iss).toBe(new URL(url).origin);
  expect([claims.aud].flat()).toEqual([audience]);
}
