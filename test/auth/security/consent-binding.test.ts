/**
 * The consent form's token is minted for the signed-in user, their current sign-in and the
 * request, and only then (issue 10 point 4; RFC 9700 §4.7). The login page shows a request id
 * and a form token to whoever opens it; signing in replaces both (and the login cookie), so
 * what a page showed before sign-in is worth nothing after it. An attacker who read a login
 * page cannot have a signed-in victim approve the attacker's request.
 */
import { describe, expect, it } from "vitest";
import { customLogin } from "../../../src/auth/index.ts";
import {
  authorize,
  authorizeUrl,
  Browser,
  KEYS,
  pkce,
  REDIRECT_URI,
  redeem,
  registerPublic,
  startServer,
  type TestServer,
  tokensOf,
} from "./support.ts";

const field = (html: string, name: string) =>
  new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1];

/** A page's hidden request id and form token. */
function formOf(html: string): { requestId: string; csrf: string } {
  const requestId = field(html, "request_id");
  const csrf = field(html, "csrf");
  expect(requestId).toBeTruthy();
  expect(csrf).toBeTruthy();
  return { requestId: requestId!, csrf: csrf! };
}

/** Opens /authorize signed out: the login page, and what it shows. */
async function loginPage(server: TestServer, browser: Browser, clientId?: string) {
  const id = clientId ?? (await registerPublic(server.base));
  const { verifier, challenge } = await pkce();
  const response = await browser.fetch(authorizeUrl(server, { clientId: id, challenge }));
  const html = await response.text();
  expect(response.status).toBe(200);
  expect(html).toContain('name="username"');
  return { clientId: id, verifier, html, ...formOf(html) };
}

/** Submits a login page as `user`; the 303 to the rebound request. */
async function signIn(server: TestServer, browser: Browser, html: string, user: string) {
  const response = await browser.submit(server.base, html, { username: user });
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get("location")!, server.base);
  return { location, cookies: response.headers.getSetCookie() };
}

/** Opens a URL expecting the consent page; returns it and what it shows. */
async function consentAt(browser: Browser, url: string) {
  const response = await browser.fetch(url);
  const html = await response.text();
  expect(response.status, html).toBe(200);
  expect(html).toContain('name="decision"');
  return { html, ...formOf(html) };
}

function postConsent(browser: Browser, server: TestServer, fields: Record<string, string>) {
  return browser.fetch(`${server.base}/consent`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ decision: "allow", ...fields }).toString(),
  });
}

async function expectRefused(response: Response): Promise<void> {
  const html = await response.text();
  expect(response.status, html).toBe(403);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("content-type")).toContain("text/html");
  expect(response.headers.getSetCookie()).toEqual([]);
  expect(html).toContain("invalid or expired");
}

async function expectExpired(response: Response): Promise<void> {
  const html = await response.text();
  expect(response.status).toBe(400);
  expect(response.headers.get("location")).toBeNull();
  expect(html).toContain("Request expired");
}

/** A signed-in user in their own browser. */
async function signedIn(server: TestServer, user: string): Promise<Browser> {
  const browser = new Browser();
  const { challenge } = await pkce();
  await authorize(
    server,
    { clientId: await registerPublic(server.base), challenge },
    { browser, user },
  );
  return browser;
}

/** Nothing issued, stored or approved since `before` (a count of writes). */
function expectNothingIssued(server: TestServer, before: number): void {
  const since = server.store.writes.slice(before);
  for (const prefix of [KEYS.code, KEYS.refresh, KEYS.consent]) {
    expect(
      since.filter((key) => key.startsWith(prefix)),
      prefix,
    ).toEqual([]);
  }
}

/** Allows a consent page in its browser and redeems the code; the token's subject. */
async function approve(
  server: TestServer,
  browser: Browser,
  html: string,
  flow: { clientId: string; verifier: string },
): Promise<string> {
  const allowed = await browser.submit(server.base, html, { decision: "allow" });
  expect(allowed.status).toBe(303);
  const code = new URL(allowed.headers.get("location")!).searchParams.get("code")!;
  expect(code).toBeTruthy();
  const tokens = await tokensOf(await redeem(server, { ...flow, code, redirectUri: REDIRECT_URI }));
  return (
    JSON.parse(Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString()) as {
      sub: string;
    }
  ).sub;
}

describe("signing in replaces what the login page showed", () => {
  it("gives the request a new id and token, and a new login cookie", async () => {
    const server = await startServer();
    const browser = new Browser();
    const before = await loginPage(server, browser);
    const { location, cookies } = await signIn(server, browser, before.html, "alice");
    expect(cookies).toHaveLength(1);
    const after = await consentAt(browser, location.href);

    expect(after.requestId).not.toBe(before.requestId);
    expect(after.csrf).not.toBe(before.csrf);
    expect(location.searchParams.get("request_id")).toBe(after.requestId);
    expect(after.html).not.toContain(before.requestId);
    expect(after.html).not.toContain(before.csrf);
    // The consent token was never on the login page.
    expect(before.html).not.toContain(after.csrf);

    // A second sign-in is a new session: another cookie value.
    const again = await loginPage(server, new Browser());
    const second = await signIn(server, new Browser(), again.html, "alice");
    expect(second.cookies[0]).not.toBe(cookies[0]);

    expect(await approve(server, browser, after.html, before)).toBe("alice");
  });

  it("forgets the pre-sign-in request id: resuming it finds nothing", async () => {
    const server = await startServer();
    const browser = new Browser();
    const before = await loginPage(server, browser);
    const { location } = await signIn(server, browser, before.html, "alice");
    const writes = server.store.writes.length;
    await expectExpired(
      await browser.fetch(`${server.base}/authorize?request_id=${before.requestId}`),
    );
    expectNothingIssued(server, writes);
    // The new one still works.
    await consentAt(browser, location.href);
  });

  it.each([
    [
      "the pre-sign-in id and token",
      (b: Ids, _a: Ids) => ({ request_id: b.requestId, csrf: b.csrf }),
    ],
    [
      "the new id with the pre-sign-in token",
      (b: Ids, a: Ids) => ({ request_id: a.requestId, csrf: b.csrf }),
    ],
    [
      "the pre-sign-in id with the new token",
      (b: Ids, a: Ids) => ({ request_id: b.requestId, csrf: a.csrf }),
    ],
    ["the new id with no token", (_b: Ids, a: Ids) => ({ request_id: a.requestId })],
    [
      "the new id with an empty token",
      (_b: Ids, a: Ids) => ({ request_id: a.requestId, csrf: "" }),
    ],
  ])("refuses a consent posted with %s; the real form still works", async (_name, fields) => {
    const server = await startServer();
    const browser = new Browser();
    const before = await loginPage(server, browser);
    const { location } = await signIn(server, browser, before.html, "alice");
    const after = await consentAt(browser, location.href);
    const writes = server.store.writes.length;
    await expectRefused(await postConsent(browser, server, fields(before, after)));
    expectNothingIssued(server, writes);
    expect(await approve(server, browser, after.html, before)).toBe("alice");
  });
});

type Ids = { requestId: string; csrf: string };

describe("an attacker who read a login page", () => {
  it("cannot have a signed-in victim approve the attacker's request", async () => {
    const server = await startServer();
    // The attacker starts a request for a client of their own and reads the login page.
    const attacker = new Browser();
    const seen = await loginPage(server, attacker);
    const victim = await signedIn(server, "victim");
    const writes = server.store.writes.length;

    // A page posts the consent form with the victim's cookies (same-site, or no SameSite).
    await expectRefused(
      await postConsent(victim, server, { request_id: seen.requestId, csrf: seen.csrf }),
    );
    expectNothingIssued(server, writes);

    // The victim follows the attacker's link to the request: bound to the victim now, under a
    // new id and token that only the victim's browser saw.
    const shown = await consentAt(
      victim,
      `${server.base}/authorize?request_id=${encodeURIComponent(seen.requestId)}`,
    );
    expect(shown.requestId).not.toBe(seen.requestId);
    expect(shown.csrf).not.toBe(seen.csrf);
    await expectRefused(
      await postConsent(victim, server, { request_id: seen.requestId, csrf: seen.csrf }),
    );
    await expectRefused(
      await postConsent(victim, server, { request_id: shown.requestId, csrf: seen.csrf }),
    );
    // The attacker's own browser gets nowhere with what it saw, nor by signing in itself.
    await expectRefused(
      await postConsent(attacker, server, { request_id: seen.requestId, csrf: seen.csrf }),
    );
    await expectExpired(
      await attacker.fetch(`${server.base}/authorize?request_id=${seen.requestId}`),
    );
    const login = await attacker.submit(server.base, seen.html, { username: "victim" });
    expect(login.status).toBe(400);
    expect(login.headers.getSetCookie()).toEqual([]);
    await login.text();
    expectNothingIssued(server, writes);
  });

  it("cannot use a token from another user's request", async () => {
    const server = await startServer();
    const alice = new Browser();
    const a = await loginPage(server, alice);
    const aliceConsent = await consentAt(
      alice,
      (await signIn(server, alice, a.html, "alice")).location.href,
    );
    const bob = new Browser();
    const b = await loginPage(server, bob);
    const bobConsent = await consentAt(
      bob,
      (await signIn(server, bob, b.html, "bob")).location.href,
    );
    const writes = server.store.writes.length;
    for (const [browser, fields] of [
      [alice, { request_id: aliceConsent.requestId, csrf: bobConsent.csrf }],
      [alice, { request_id: bobConsent.requestId, csrf: bobConsent.csrf }],
      [bob, { request_id: aliceConsent.requestId, csrf: aliceConsent.csrf }],
    ] as const) {
      await expectRefused(await postConsent(browser, server, fields));
    }
    expectNothingIssued(server, writes);
    expect(await approve(server, alice, aliceConsent.html, a)).toBe("alice");
    expect(await approve(server, bob, bobConsent.html, b)).toBe("bob");
  });

  it("cannot use a token from another request of the same user", async () => {
    const server = await startServer();
    const browser = new Browser();
    const first = await loginPage(server, browser);
    const one = await consentAt(
      browser,
      (await signIn(server, browser, first.html, "alice")).location.href,
    );
    // Signed in now: the second request is born bound, its form shown only to alice.
    const clientId = await registerPublic(server.base);
    const { verifier, challenge } = await pkce();
    const two = await consentAt(browser, authorizeUrl(server, { clientId, challenge }));
    const writes = server.store.writes.length;
    await expectRefused(
      await postConsent(browser, server, { request_id: one.requestId, csrf: two.csrf }),
    );
    await expectRefused(
      await postConsent(browser, server, { request_id: two.requestId, csrf: one.csrf }),
    );
    expectNothingIssued(server, writes);
    expect(await approve(server, browser, two.html, { clientId, verifier })).toBe("alice");
    expect(await approve(server, browser, one.html, first)).toBe("alice");
  });

  it("refuses a stale form: one minted for an earlier sign-in of the same user", async () => {
    const server = await startServer();
    const browser = new Browser();
    const first = await loginPage(server, browser);
    const stale = await consentAt(
      browser,
      (await signIn(server, browser, first.html, "alice")).location.href,
    );
    // Alice signs in again in the same browser (a login form from another request): a new
    // session replaces the one the open consent form was minted for.
    const other = await loginPage(server, new Browser());
    const { cookies } = await signIn(server, browser, other.html, "alice");
    expect(cookies).toHaveLength(1);
    const writes = server.store.writes.length;
    await expectRefused(await browser.submit(server.base, stale.html, { decision: "allow" }));
    expectNothingIssued(server, writes);

    // Opened again, the request is rebound to the new sign-in, with a new id and token.
    const fresh = await consentAt(
      browser,
      `${server.base}/authorize?request_id=${encodeURIComponent(stale.requestId)}`,
    );
    expect(fresh.requestId).not.toBe(stale.requestId);
    expect(fresh.csrf).not.toBe(stale.csrf);
    await expectRefused(await browser.submit(server.base, stale.html, { decision: "allow" }));
    expect(await approve(server, browser, fresh.html, first)).toBe("alice");
  });
});

describe("login providers that sign in elsewhere", () => {
  it("customLogin: the request id in returnTo is replaced once the user is known", async () => {
    const server = await startServer({
      login: customLogin({
        authenticate: (c, flow) => {
          const user = /(?:^|; )app-user=(\w+)/.exec(c.req.header("cookie") ?? "")?.[1];
          if (user) return { subject: user };
          return flow.returnTo
            ? c.redirect(`/app/login?return=${encodeURIComponent(flow.returnTo)}`, 303)
            : undefined;
        },
      }),
    });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const start = await fetch(authorizeUrl(server, { clientId, challenge }), {
      redirect: "manual",
    });
    expect(start.status).toBe(303);
    const returnTo = new URL(start.headers.get("location")!, server.base).searchParams.get(
      "return",
    )!;
    const seenId = new URL(returnTo, server.base).searchParams.get("request_id")!;
    expect(seenId).toBeTruthy();

    const signedIn = { cookie: "app-user=alice" };
    const consent = await fetch(new URL(returnTo, server.base), { headers: signedIn });
    const html = await consent.text();
    expect(consent.status).toBe(200);
    const shown = formOf(html);
    expect(shown.requestId).not.toBe(seenId);
    const writes = server.store.writes.length;
    const stale = await fetch(`${server.base}/authorize?request_id=${seenId}`, {
      headers: signedIn,
    });
    await expectExpired(stale);
    expectNothingIssued(server, writes);
  });
});
