/**
 * The upstream presets and upstreamOAuth's explicit endpoints: options refused at
 * construction with a plain message, and the authorization request each preset sends.
 */
import { describe, expect, it } from "vitest";
import {
  authorizationServer,
  entraOAuth,
  githubOAuth,
  googleOAuth,
  oidcOAuth,
  upstreamOAuth,
} from "../../src/auth/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { listen } from "../helpers/http.ts";
import { Browser } from "../helpers/oauth.ts";

const client = { clientId: "id", clientSecret: "secret" };
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";

describe("upstream options are checked at construction", () => {
  it.each([
    ["no issuer and no endpoints", () => upstreamOAuth({ clientId: "id" }), /either issuer/],
    [
      "both issuer and endpoints",
      () =>
        upstreamOAuth({
          clientId: "id",
          issuer: "https://idp.example",
          endpoints: {
            authorization: "https://a.example/a",
            token: "https://a.example/t",
            userinfo: "https://a.example/u",
          },
        }),
      /either issuer/,
    ],
    [
      "endpoints without a way to learn the user",
      () =>
        upstreamOAuth({
          clientId: "id",
          endpoints: { authorization: "https://a.example/a", token: "https://a.example/t" },
        }),
      /userinfo or give profile/,
    ],
    [
      "http endpoints without allowInsecureRequests",
      () =>
        upstreamOAuth({
          clientId: "id",
          endpoints: {
            authorization: "http://a.example/a",
            token: "https://a.example/t",
            userinfo: "https://a.example/u",
          },
        }),
      /must use https/,
    ],
    [
      "explicit endpoints with protocol oidc",
      () =>
        upstreamOAuth({
          clientId: "id",
          protocol: "oidc",
          endpoints: {
            authorization: "https://a.example/a",
            token: "https://a.example/t",
            userinfo: "https://a.example/u",
          },
        }),
      /plain OAuth 2/,
    ],
    [
      "an empty clientId",
      () => upstreamOAuth({ clientId: "", issuer: "https://idp.example" }),
      /clientId/,
    ],
    [
      "a negative refresh skew",
      () =>
        upstreamOAuth({ clientId: "id", issuer: "https://idp.example", refreshSkewSeconds: -1 }),
      /refreshSkewSeconds/,
    ],
    [
      "authorizationParams replacing the flow's own",
      () =>
        upstreamOAuth({
          clientId: "id",
          issuer: "https://idp.example",
          authorizationParams: { state: "x" },
        }),
      /may not set state/,
    ],
    [
      "a name that is not URL-safe",
      () => upstreamOAuth({ clientId: "id", issuer: "https://idp.example", name: "../x" }),
      /name/,
    ],
    [
      "GitHub Enterprise at a bad URL",
      () => githubOAuth({ ...client, enterpriseUrl: "ghe.example" }),
      /githubOAuth: enterpriseUrl/,
    ],
    ["GitHub without options", () => githubOAuth(undefined as never), /githubOAuth needs options/],
    ["Entra without a tenant", () => entraOAuth({ ...client } as never), /tenant/],
    ["Entra with the common tenant", () => entraOAuth({ ...client, tenant: "common" }), /GUID/],
    [
      "OIDC with an http issuer",
      () => oidcOAuth({ ...client, issuer: "http://idp.example" }),
      /oidcOAuth: issuer must use https/,
    ],
    ["Google without a clientId", () => googleOAuth({ clientSecret: "s" } as never), /clientId/],
  ])("refuses %s", (_name, make, message) => {
    expect(make).toThrow(message);
  });

  it("accepts each preset with its few lines of configuration", () => {
    expect(githubOAuth(client).name).toBe("github");
    expect(googleOAuth({ ...client, keepTokens: true }).upstream?.refreshSkewSeconds).toBe(60);
    expect(entraOAuth({ ...client, tenant: TENANT }).name).toBe("entra");
    expect(oidcOAuth({ ...client, issuer: "https://idp.example" }).upstream).toBeUndefined();
  });
});

describe("the authorization request each preset sends", () => {
  /** Where our /authorize sends the browser for a preset, with the query it carries. */
  async function upstreamRequest(login: ReturnType<typeof githubOAuth>): Promise<URL> {
    const base = await listen(
      authorizationServer({ store: memoryStore(), login, rateLimits: false }).app,
    );
    const registered = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        redirect_uris: ["http://127.0.0.1:9/cb"],
        token_endpoint_auth_method: "none",
      }),
    });
    const { client_id } = (await registered.json()) as { client_id: string };
    const query = new URLSearchParams({
      response_type: "code",
      client_id,
      redirect_uri: "http://127.0.0.1:9/cb",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    });
    const response = await new Browser().fetch(`${base}/authorize?${query}`);
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get("location")!);
    expect(location.searchParams.get("redirect_uri")).toBe(`${base}/login/${login.name}/callback`);
    return location;
  }

  it("GitHub: github.com's authorize endpoint, PKCE, no nonce, its default scopes", async () => {
    const url = await upstreamRequest(githubOAuth({ ...client, keepTokens: true }));
    expect(`${url.origin}${url.pathname}`).toBe("https://github.com/login/oauth/authorize");
    expect(url.searchParams.get("scope")).toBe("read:user user:email");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("nonce")).toBeNull();
  });

  it("GitHub Enterprise: the configured host", async () => {
    const url = await upstreamRequest(
      githubOAuth({ ...client, enterpriseUrl: "https://github.example.com/" }),
    );
    expect(`${url.origin}${url.pathname}`).toBe("https://github.example.com/login/oauth/authorize");
  });
});
