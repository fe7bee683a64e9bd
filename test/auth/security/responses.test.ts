/**
 * What every response must carry: RFC 9207 `iss` on every redirect to the client, success or
 * error (mix-up defence, RFC 9700 §4.4); 303 after a POST, never 307 (RFC 9700 §4.12);
 * no-store on token responses (RFC 6749 §5.1); CORS only where browser clients need it; and
 * metadata that advertises only what is safe.
 */
import { describe, expect, it } from "vitest";
import {
  authorize,
  authorizeUrl,
  Browser,
  codeFlow,
  expectErrorRedirect,
  openAuthorize,
  pkce,
  postForm,
  REDIRECT_URI,
  redeem,
  register,
  registerConfidential,
  registerPublic,
  startServer,
  type TestServer,
} from "./support.ts";

async function issuerOf(server: TestServer): Promise<string> {
  const metadata = (await (
    await fetch(`${server.base}/.well-known/oauth-authorization-server`)
  ).json()) as { issuer: string };
  return metadata.issuer;
}

describe("iss on every redirect (RFC 9207)", () => {
  it("on success, after fresh and after remembered consent", async () => {
    const server = await startServer();
    const issuer = await issuerOf(server);
    expect(issuer).toBe(server.base);
    // Consent is remembered only for clients that prove who they are (confidential).
    const { clientId } = await registerConfidential(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const fresh = await authorize(server, { clientId, challenge }, { browser });
    expect(fresh.location.searchParams.get("iss")).toBe(issuer);
    const remembered = await browser.fetch(authorizeUrl(server, { clientId, challenge }));
    expect(remembered.status).toBe(303);
    const location = new URL(remembered.headers.get("location")!);
    expect(location.searchParams.get("code")).toBeTruthy();
    expect(location.searchParams.get("iss")).toBe(issuer);
  });

  it.each([
    ["unsupported_response_type", { response_type: "token" }],
    ["unsupported_response_type", { response_type: "code id_token" }],
    ["invalid_request", { code_challenge_method: "plain" }],
    ["invalid_scope", { scope: "admin" }],
    ["invalid_target", { resource: "https://evil.example/mcp" }],
  ])("on error %s", async (error, extra) => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const response = await fetch(
      authorizeUrl(server, { clientId, challenge, state: "s1", extra }),
      {
        redirect: "manual",
      },
    );
    expectErrorRedirect(response, server, { error, state: "s1" });
  });

  it("on error unauthorized_client", async () => {
    const server = await startServer();
    // A client registered without the authorization code grant.
    const { clientId } = await registerConfidential(server.base, {
      grant_types: ["refresh_token"],
    });
    const { challenge } = await pkce();
    const response = await fetch(authorizeUrl(server, { clientId, challenge, state: "s1" }), {
      redirect: "manual",
    });
    expectErrorRedirect(response, server, { error: "unauthorized_client", state: "s1" });
  });

  it("on error access_denied", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const { html } = await openAuthorize(browser, server, { clientId, challenge, state: "s1" });
    const denied = await browser.submit(server.base, html, { decision: "deny" });
    expectErrorRedirect(denied, server, { error: "access_denied", state: "s1" });
  });
});

describe("303 after POST, never 307", () => {
  it("answers a form POST to /authorize, the login and the consent with 303", async () => {
    const server = await startServer();
    const { clientId } = await registerConfidential(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const body = new URL(authorizeUrl(server, { clientId, challenge })).searchParams.toString();
    const postAuthorize = () =>
      browser.fetch(`${server.base}/authorize`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
      });

    const loginPage = await postAuthorize();
    expect(loginPage.status).toBe(200);
    const login = await browser.submit(server.base, await loginPage.text(), { username: "alice" });
    expect(login.status).toBe(303);
    const consentPage = await browser.fetch(
      new URL(login.headers.get("location")!, server.base).href,
    );
    const consent = await browser.submit(server.base, await consentPage.text(), {
      decision: "allow",
    });
    expect(consent.status).toBe(303);

    // Remembered consent, and an error, straight from a POSTed request.
    const remembered = await postAuthorize();
    expect(remembered.status).toBe(303);
    const failing = await browser.fetch(`${server.base}/authorize`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URL(
        authorizeUrl(server, { clientId, challenge, extra: { code_challenge_method: "plain" } }),
      ).searchParams.toString(),
    });
    expect(failing.status).toBe(303);
  });
});

describe("token responses are not cached", () => {
  it("sends no-store and Pragma no-cache on success and on error", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    const ok = await redeem(server, flow);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("no-store");
    expect(ok.headers.get("pragma")).toBe("no-cache");
    const replay = await redeem(server, flow);
    expect(replay.status).toBe(400);
    expect(replay.headers.get("cache-control")).toBe("no-store");
    expect(replay.headers.get("pragma")).toBe("no-cache");
    const registration = await register(server.base, {
      redirect_uris: [REDIRECT_URI],
    });
    expect(registration.status).toBe(201);
    expect(registration.headers.get("cache-control")).toBe("no-store");
  });
});

describe("CORS", () => {
  const origin = "https://browser-client.example";

  it.each([
    ["GET", "/.well-known/oauth-authorization-server"],
    ["GET", "/.well-known/openid-configuration"],
    ["GET", "/.well-known/jwks.json"],
    ["GET", "/.well-known/oauth-protected-resource/mcp"],
    ["POST", "/token"],
    ["POST", "/register"],
    ["POST", "/revoke"],
  ])("allows any origin, without credentials, on %s %s", async (method, path) => {
    const server = await startServer();
    const preflight = await fetch(`${server.base}${path}`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": method,
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();

    const actual = await fetch(`${server.base}${path}`, {
      method,
      headers: { origin, "content-type": "application/x-www-form-urlencoded" },
      ...(method === "POST" ? { body: "" } : {}),
    });
    expect(actual.headers.get("access-control-allow-origin")).toBe("*");
    expect(actual.headers.get("access-control-allow-credentials")).toBeNull();
    await actual.text();
  });

  it("does not let other origins read /authorize or post to /consent", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const page = await fetch(authorizeUrl(server, { clientId, challenge }), {
      headers: { origin },
    });
    expect(page.headers.get("access-control-allow-origin")).toBeNull();
    await page.text();
    const consent = await postForm(`${server.base}/consent`, { request_id: "x" }, { origin });
    expect(consent.headers.get("access-control-allow-origin")).toBeNull();
    await consent.text();
  });
});

describe("metadata advertises only what is safe", () => {
  it("S256 only, code only, iss parameter, client ID metadata documents", async () => {
    const server = await startServer();
    const metadata = (await (
      await fetch(`${server.base}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    expect(metadata.code_challenge_methods_supported).toEqual(["S256"]);
    expect(metadata.response_types_supported).toEqual(["code"]);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.client_id_metadata_document_supported).toBe(true);
    expect(metadata.grant_types_supported).not.toContain("implicit");
    expect(metadata.grant_types_supported).not.toContain("password");
    expect(metadata.introspection_endpoint_auth_methods_supported).not.toContain("none");
  });
});
