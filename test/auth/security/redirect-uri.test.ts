/**
 * Redirect URIs (RFC 9700 §2.1 and §4.1, RFC 8252 §7.3, OAuth 2.1 §2.3.1): what may be
 * registered, exact matching at /authorize, and never an open redirect.
 */
import { describe, expect, it } from "vitest";
import {
  authorize,
  authorizeUrl,
  Browser,
  expectErrorPage,
  expectOAuthError,
  KEYS,
  pkce,
  REDIRECT_URI,
  redeem,
  register,
  registerPublic,
  startServer,
  tokensOf,
} from "./support.ts";

const APP = "https://app.example/cb";

describe("redirect URIs at registration (RFC 7591 invalid_redirect_uri)", () => {
  it.each([
    ["javascript: scheme", "javascript:alert(document.cookie)"],
    ["javascript: in capitals", "JavaScript:alert(1)//https://app.example/cb"],
    ["javascript: with leading space", " javascript:alert(1)"],
    ["data: scheme", "data:text/html,<script>alert(1)</script>"],
    ["vbscript: scheme", "vbscript:msgbox(1)"],
    ["file: scheme", "file:///etc/passwd"],
    ["a fragment", "https://app.example/cb#frag"],
    ["an empty fragment", "https://app.example/cb#"],
    ["http on a public host", "http://app.example/cb"],
    ["http on a name that starts like localhost", "http://localhost.evil.example/cb"],
    ["http on a name that starts like 127.0.0.1", "http://127.0.0.1.nip.io/cb"],
    ["a custom scheme not allow-listed", "cursor://anysphere.cursor-retrieval/oauth/callback"],
    ["userinfo", "https://user:pass@app.example/cb"],
    ["userinfo that looks like a host", "https://evil.example@app.example/cb"],
    ["userinfo on loopback", "http://user@127.0.0.1:9/callback"],
    ["a relative reference", "/callback"],
    ["no scheme", "app.example/cb"],
  ])("refuses %s and creates no client", async (_name, uri) => {
    const server = await startServer();
    const body = await expectOAuthError(
      await register(server.base, { redirect_uris: [uri], token_endpoint_auth_method: "none" }),
      400,
      "invalid_redirect_uri",
    );
    expect(body).not.toHaveProperty("client_id");
    expect(server.store.written(KEYS.client)).toBe(0);
  });

  it("refuses the whole registration when one of several URIs is bad", async () => {
    const server = await startServer();
    await expectOAuthError(
      await register(server.base, {
        redirect_uris: [APP, "javascript:alert(1)"],
        token_endpoint_auth_method: "none",
      }),
      400,
      "invalid_redirect_uri",
    );
    expect(server.store.written(KEYS.client)).toBe(0);
  });

  it("refuses an authorization code client without redirect URIs", async () => {
    const server = await startServer();
    await expectOAuthError(
      await register(server.base, { token_endpoint_auth_method: "none" }),
      400,
      "invalid_redirect_uri",
    );
    expect(server.store.written(KEYS.client)).toBe(0);
  });

  it("never allows javascript: or data:, even when allow-listed as custom schemes", async () => {
    const server = await startServer({ redirectSchemes: ["javascript", "data", "cursor"] });
    for (const uri of ["javascript:alert(1)", "data:text/html,x"]) {
      await expectOAuthError(
        await register(server.base, { redirect_uris: [uri], token_endpoint_auth_method: "none" }),
        400,
        "invalid_redirect_uri",
      );
    }
    expect(server.store.written(KEYS.client)).toBe(0);
  });

  it("accepts https, loopback http on any loopback name, and allow-listed custom schemes", async () => {
    const server = await startServer({ redirectSchemes: ["cursor"] });
    const response = await register(server.base, {
      redirect_uris: [
        APP,
        "http://127.0.0.1/callback",
        "http://localhost:3000/callback",
        "http://[::1]:8080/callback",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
      ],
      token_endpoint_auth_method: "none",
    });
    expect(response.status).toBe(201);
    expect(server.store.written(KEYS.client)).toBe(1);
  });
});

describe("redirect URIs at /authorize: exact match, our own error page otherwise", () => {
  const setup = async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base, { redirect_uris: [APP, REDIRECT_URI] });
    const { challenge } = await pkce();
    return { server, clientId, challenge };
  };

  it.each([
    ["a longer path", "https://app.example/cb/extra"],
    ["a dot-segment path", "https://app.example/cb/../evil"],
    ["an encoded path", "https://app.example/%63b"],
    ["another path case", "https://app.example/CB"],
    ["an added query", "https://app.example/cb?next=https://evil.example"],
    ["a fragment", "https://app.example/cb#frag"],
    ["a suffix host", "https://app.example.evil.example/cb"],
    ["another host", "https://evil.example/cb"],
    ["userinfo", "https://evil.example@app.example/cb"],
    ["another port on a public host", "https://app.example:8443/cb"],
    ["http instead of https", "http://app.example/cb"],
    ["javascript:", "javascript:alert(1)"],
    ["data:", "data:text/html,<script>alert(1)</script>"],
    ["a loopback URI with another path", "http://127.0.0.1:5555/other"],
    ["a loopback URI with an added query", "http://127.0.0.1:5555/callback?x=1"],
    ["a loopback URI under another loopback name", "http://localhost:9/callback"],
    ["a loopback URI with userinfo", "http://evil@127.0.0.1:5555/callback"],
    ["a loopback URI with a fragment", "http://127.0.0.1:5555/callback#x"],
    ["a loopback URI with an empty fragment", "http://127.0.0.1:5555/callback#"],
    ["an empty redirect_uri", ""],
  ])("shows an error page for %s, never a redirect", async (_name, uri) => {
    const { server, clientId, challenge } = await setup();
    const response = await fetch(
      authorizeUrl(server, { clientId, challenge, redirectUri: uri, state: "s1" }),
      { redirect: "manual" },
    );
    const html = await expectErrorPage(response);
    expect(html).not.toContain("evil.example");
    expect(server.store.written(KEYS.pending)).toBe(0);
  });

  it("shows the error page for a form POST to /authorize as well", async () => {
    const { server, clientId, challenge } = await setup();
    const query = new URL(
      authorizeUrl(server, { clientId, challenge, redirectUri: "https://evil.example/cb" }),
    ).searchParams;
    const response = await fetch(`${server.base}/authorize`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: query.toString(),
      redirect: "manual",
    });
    await expectErrorPage(response);
    expect(server.store.written(KEYS.pending)).toBe(0);
  });

  it("shows the error page when redirect_uri is omitted and several are registered", async () => {
    const { server, clientId, challenge } = await setup();
    const url = new URL(authorizeUrl(server, { clientId, challenge }));
    url.searchParams.delete("redirect_uri");
    await expectErrorPage(await fetch(url, { redirect: "manual" }));
  });

  it("shows the error page for an unknown client, whatever redirect_uri it names", async () => {
    const { server, challenge } = await setup();
    const response = await fetch(
      authorizeUrl(server, {
        clientId: "no-such-client",
        challenge,
        redirectUri: "https://evil.example/cb",
      }),
      { redirect: "manual" },
    );
    const html = await expectErrorPage(response);
    expect(html).not.toContain("evil.example");
    expect(server.store.written(KEYS.pending)).toBe(0);
  });

  it("shows the error page when client_id is missing", async () => {
    const { server, challenge } = await setup();
    const url = new URL(authorizeUrl(server, { clientId: "x", challenge }));
    url.searchParams.delete("client_id");
    await expectErrorPage(await fetch(url, { redirect: "manual" }));
  });

  it("accepts a registered loopback URI on another port and binds the code to it", async () => {
    const { server, clientId } = await setup();
    const { verifier, challenge } = await pkce();
    const redirectUri = "http://127.0.0.1:5555/callback";
    const { code, location } = await authorize(server, { clientId, challenge, redirectUri });
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    const flow = { clientId, code, verifier, redirectUri };
    // The registered port is not the one this code was issued for.
    await expectOAuthError(
      await redeem(server, flow, { redirect_uri: REDIRECT_URI }),
      400,
      "invalid_grant",
    );
    await tokensOf(await redeem(server, flow));
  });

  it("redirects to an allow-listed custom scheme exactly as registered", async () => {
    const server = await startServer({ redirectSchemes: ["cursor"] });
    const redirectUri = "cursor://anysphere.cursor-retrieval/oauth/callback";
    const clientId = await registerPublic(server.base, { redirect_uris: [redirectUri] });
    const { challenge } = await pkce();
    const { location } = await authorize(server, { clientId, challenge, redirectUri });
    expect(location.href.startsWith(`${redirectUri}?`)).toBe(true);
    expect(location.searchParams.get("iss")).toBe(server.base);

    // A sibling path under the same scheme is not registered.
    const other = await fetch(
      authorizeUrl(server, {
        clientId,
        challenge,
        redirectUri: "cursor://anysphere.cursor-retrieval/evil",
      }),
      { redirect: "manual" },
    );
    await expectErrorPage(other);
  });

  it("still serves the legitimate request after refusing a tampered one", async () => {
    const { server, clientId } = await setup();
    const { verifier, challenge } = await pkce();
    await expectErrorPage(
      await fetch(authorizeUrl(server, { clientId, challenge, redirectUri: `${APP}/x` }), {
        redirect: "manual",
      }),
    );
    const { code } = await authorize(server, { clientId, challenge });
    await tokensOf(await redeem(server, { clientId, code, verifier, redirectUri: REDIRECT_URI }));
  });
});

describe("redirect_uri left out at /authorize (RFC 6749 §4.1.3)", () => {
  it("uses the only registered URI, and /token may then omit it but not change it", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { verifier, challenge } = await pkce();
    const url = new URL(authorizeUrl(server, { clientId, challenge }));
    url.searchParams.delete("redirect_uri");
    const browser = new Browser();
    let response = await browser.fetch(url.href);
    let html = await response.text();
    response = await browser.submit(server.base, html, { username: "alice" });
    response = await browser.fetch(new URL(response.headers.get("location")!, server.base).href);
    html = await response.text();
    response = await browser.submit(server.base, html, { decision: "allow" });
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    const code = location.searchParams.get("code")!;
    const flow = { clientId, code, verifier, redirectUri: REDIRECT_URI };
    // Another URI is refused and spends nothing; leaving it out works.
    await expectOAuthError(
      await redeem(server, flow, { redirect_uri: "http://127.0.0.1:9/other" }),
      400,
      "invalid_grant",
    );
    const ok = await redeem(server, flow, { redirect_uri: undefined });
    expect(ok.status).toBe(200);
    expect((await tokensOf(ok)).access_token).toBeTruthy();
  });

  it("requires /token to repeat it when /authorize had it", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { verifier, challenge } = await pkce();
    const { code } = await authorize(server, { clientId, challenge });
    const flow = { clientId, code, verifier, redirectUri: REDIRECT_URI };
    await expectOAuthError(
      await redeem(server, flow, { redirect_uri: undefined }),
      400,
      "invalid_grant",
    );
    expect((await redeem(server, flow)).status).toBe(200);
  });
});
