/**
 * Login and consent (RFC 9700 §4.4 mix-up aside, §4.7 CSRF, §4.16 clickjacking): the consent
 * form is bound to its request and to the signed-in user, works once, and our pages cannot
 * be framed, cached or leak a Referer. The login cookie is a `__Host-` cookie.
 */
import { describe, expect, it } from "vitest";
import {
  authorize,
  authorizeUrl,
  Browser,
  expectErrorRedirect,
  KEYS,
  mcpStatus,
  openAuthorize,
  pkce,
  REDIRECT_URI,
  redeem,
  registerConfidential,
  registerPublic,
  startServer,
  type TestServer,
  tokensOf,
} from "./support.ts";

/** A consent page for alice in her own browser, with what is needed to finish the flow. */
async function consentPage(server: TestServer, user = "alice") {
  const clientId = await registerPublic(server.base);
  const { verifier, challenge } = await pkce();
  const browser = new Browser();
  const { response, html } = await openAuthorize(browser, server, { clientId, challenge }, user);
  expect(response.status).toBe(200);
  expect(html).toContain('name="decision"');
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)![1]!;
  return {
    clientId,
    verifier,
    challenge,
    browser,
    html,
    requestId: field("request_id"),
    csrf: field("csrf"),
  };
}

/** Someone else, signed in on their own browser. */
async function otherUser(server: TestServer, user: string): Promise<Browser> {
  const browser = new Browser();
  await authorize(
    server,
    { clientId: await registerPublic(server.base), challenge: (await pkce()).challenge },
    { browser, user },
  );
  return browser;
}

async function expectRefusedPage(response: Response): Promise<void> {
  expect(response.status).toBe(403);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("content-type")).toContain("text/html");
  await response.text();
}

/** The consent can still be given, once, by its user, and the code is theirs. */
async function finishes(server: TestServer, page: Awaited<ReturnType<typeof consentPage>>) {
  const allowed = await page.browser.submit(server.base, page.html, { decision: "allow" });
  expect(allowed.status).toBe(303);
  const code = new URL(allowed.headers.get("location")!).searchParams.get("code")!;
  expect(code).toBeTruthy();
  const tokens = await tokensOf(
    await redeem(server, {
      clientId: page.clientId,
      code,
      verifier: page.verifier,
      redirectUri: REDIRECT_URI,
    }),
  );
  const claims = JSON.parse(
    Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString(),
  ) as { sub: string };
  expect(await mcpStatus(server, tokens.access_token)).toBe(200);
  return claims.sub;
}

describe("CSRF on the consent form", () => {
  it("refuses a wrong csrf token; the real form still works", async () => {
    const server = await startServer();
    const page = await consentPage(server);
    await expectRefusedPage(
      await page.browser.submit(server.base, page.html, { decision: "allow", csrf: "forged" }),
    );
    expect(server.store.written(KEYS.code)).toBe(0);
    expect(await finishes(server, page)).toBe("alice");
  });

  it("refuses a missing csrf token", async () => {
    const server = await startServer();
    const page = await consentPage(server);
    const response = await page.browser.fetch(`${server.base}/consent`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ request_id: page.requestId, decision: "allow" }).toString(),
    });
    await expectRefusedPage(response);
    expect(await finishes(server, page)).toBe("alice");
  });

  it("refuses a consent posted without the login cookie (a cross-site POST)", async () => {
    const server = await startServer();
    const page = await consentPage(server);
    const response = await fetch(`${server.base}/consent`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        request_id: page.requestId,
        csrf: page.csrf,
        decision: "allow",
      }).toString(),
      redirect: "manual",
    });
    await expectRefusedPage(response);
    expect(await finishes(server, page)).toBe("alice");
  });

  it("refuses a replayed consent form: one code only", async () => {
    const server = await startServer();
    const page = await consentPage(server);
    expect(await finishes(server, page)).toBe("alice");
    const writes = server.store.writes.length;
    await expectRefusedPage(
      await page.browser.submit(server.base, page.html, { decision: "allow" }),
    );
    expect(server.store.writes.slice(writes).filter((key) => key.startsWith(KEYS.code))).toEqual(
      [],
    );
  });

  it("refuses alice's consent form submitted by bob, signed in on his own browser", async () => {
    const server = await startServer();
    const page = await consentPage(server, "alice");
    const bob = await otherUser(server, "bob");
    const codes = server.store.written(KEYS.code);
    await expectRefusedPage(await bob.submit(server.base, page.html, { decision: "allow" }));
    expect(server.store.written(KEYS.code)).toBe(codes);
    expect(await finishes(server, page)).toBe("alice");
  });

  it("does not let bob take over alice's pending request by its id", async () => {
    const server = await startServer();
    const page = await consentPage(server, "alice");
    const bob = await otherUser(server, "bob");
    const codes = server.store.written(KEYS.code);
    const resumed = await bob.fetch(
      `${server.base}/authorize?request_id=${encodeURIComponent(page.requestId)}`,
    );
    await expectRefusedPage(resumed);
    expect(server.store.written(KEYS.code)).toBe(codes);
    expect(await finishes(server, page)).toBe("alice");
  });

  it("refuses an unknown or used request id with an error page", async () => {
    const server = await startServer();
    const browser = new Browser();
    const response = await browser.fetch(`${server.base}/authorize?request_id=nope`);
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    await response.text();
  });
});

describe("the consent decision", () => {
  it("sends access_denied back with iss and state, issues nothing and remembers nothing", async () => {
    const server = await startServer();
    const page = await consentPage(server);
    const denied = await page.browser.submit(server.base, page.html, { decision: "deny" });
    expectErrorRedirect(denied, server, { error: "access_denied", state: "xyz" });
    expect(server.store.written(KEYS.code)).toBe(0);
    expect(server.store.written(KEYS.consent)).toBe(0);

    // Asked again next time.
    const again = await openAuthorize(page.browser, server, {
      clientId: page.clientId,
      challenge: page.challenge,
    });
    expect(again.response.status).toBe(200);
    expect(again.html).toContain('name="decision"');
  });

  it("does not stretch remembered consent to wider scopes", async () => {
    const server = await startServer();
    // A confidential client with an exact redirect: the only kind consent is remembered for.
    const { clientId } = await registerConfidential(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    await authorize(server, { clientId, challenge, scope: "notes:read" }, { browser });

    // The same scope is remembered: straight back to the client.
    const same = await browser.fetch(
      authorizeUrl(server, { clientId, challenge, scope: "notes:read" }),
    );
    expect(same.status).toBe(303);

    const wider = await browser.fetch(
      authorizeUrl(server, { clientId, challenge, scope: "notes:read notes:write" }),
    );
    expect(wider.status).toBe(200);
    expect(await wider.text()).toContain("notes:write");

    // Nor to another client.
    const { clientId: other } = await registerConfidential(server.base);
    const otherClient = await browser.fetch(
      authorizeUrl(server, { clientId: other, challenge, scope: "notes:read" }),
    );
    expect(otherClient.status).toBe(200);
    await otherClient.text();
  });

  it("escapes what a client registered when showing it", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base, {
      client_name: '<script>alert(1)</script><img src=x onerror="alert(2)">',
    });
    const { challenge } = await pkce();
    const { html } = await openAuthorize(new Browser(), server, { clientId, challenge });
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;script&gt;");
  });
});

describe("login", () => {
  it("refuses a dev login with a wrong csrf token and sets no cookie", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const loginPage = await browser.fetch(authorizeUrl(server, { clientId, challenge }));
    const html = await loginPage.text();
    expect(html).toContain('name="username"');
    for (const fields of [{ csrf: "forged" }, { request_id: "nope" }, { username: "a b<c>" }]) {
      const response = await browser.submit(server.base, html, { username: "mallory", ...fields });
      expect(response.status).toBe(400);
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(response.headers.get("location")).toBeNull();
      await response.text();
    }
  });

  it("sets the login cookie as __Host-, HttpOnly, Secure, SameSite=Lax, Path=/", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const loginPage = await browser.fetch(authorizeUrl(server, { clientId, challenge }));
    const response = await browser.submit(server.base, await loginPage.text(), {
      username: "alice",
    });
    expect(response.status).toBe(303);
    const cookies = response.headers.getSetCookie();
    expect(cookies).toHaveLength(1);
    const [pair, ...attributes] = cookies[0]!.split(";").map((part) => part.trim());
    expect(pair!.startsWith("__Host-")).toBe(true);
    const lower = attributes.map((attribute) => attribute.toLowerCase());
    expect(lower).toContain("httponly");
    expect(lower).toContain("secure");
    expect(lower).toContain("samesite=lax");
    expect(lower).toContain("path=/");
    expect(lower.some((attribute) => attribute.startsWith("domain="))).toBe(false);
  });

  it("ignores a login cookie whose signature was tampered with", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const url = authorizeUrl(server, { clientId, challenge });
    const browser = new Browser();
    const loginPage = await browser.fetch(url);
    const login = await browser.submit(server.base, await loginPage.text(), { username: "alice" });
    const [pair] = login.headers.getSetCookie()[0]!.split(";");
    const [name, value] = [pair!.slice(0, pair!.indexOf("=")), pair!.slice(pair!.indexOf("=") + 1)];
    const decoded = decodeURIComponent(value!);
    const dot = decoded.lastIndexOf(".");
    const forgedValue = decoded
      .slice(0, dot)
      .replace('"subject":"alice"', '"subject":"admin"')
      .replace('"name":"alice"', '"name":"admin"');
    const forged = `${name}=${encodeURIComponent(`${forgedValue}${decoded.slice(dot)}`)}`;
    const response = await fetch(url, { headers: { cookie: forged }, redirect: "manual" });
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('name="username"');
    expect(html).not.toContain("admin");
  });
});

describe("clickjacking, referrer and caching headers on our pages", () => {
  const expectPageHeaders = (response: Response) => {
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  };

  it("sends them with the login page", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const response = await fetch(authorizeUrl(server, { clientId, challenge }));
    expect(await response.text()).toContain('name="username"');
    expectPageHeaders(response);
  });

  it("sends them with the consent page", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const { response, html } = await openAuthorize(browser, server, { clientId, challenge });
    expect(html).toContain('name="decision"');
    expectPageHeaders(response);
  });

  it("sends them with the error page", async () => {
    const server = await startServer();
    const response = await fetch(
      authorizeUrl(server, { clientId: "unknown", challenge: (await pkce()).challenge }),
    );
    expect(response.status).toBe(400);
    await response.text();
    expectPageHeaders(response);
  });
});
