/**
 * The audit trail: real flows over loopback (registration, sign-in failed and succeeded,
 * consent denied, granted and remembered, code → token, refresh rotation and reuse,
 * revocation, client credentials, a rate limit) produce every event type with the right
 * fields, and the JSON-lines output holds none of the secrets, codes or tokens of the test.
 */
import { describe, expect, it } from "vitest";
import type { AuditEvent, AuditEventType } from "../../src/auth/index.ts";
import { jsonLinesAudit } from "../../src/auth/index.ts";
import { deferred } from "../helpers/async.ts";
import { capturingLogger } from "../helpers/log.ts";
import {
  Browser,
  expectOAuthError,
  form,
  MACHINE,
  machineClient,
  manualClock,
  pkce,
  REDIRECT_URI,
  registerConfidential,
  startServer,
} from "./security/support.ts";

const SCOPE = "notes:read notes:write";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Every value a test hands out or receives that must never reach the trail. */
class Secrets {
  readonly values = new Set<string>();

  add(...values: (string | null | undefined)[]): void {
    for (const value of values) if (value) this.values.add(value);
  }

  /** Cookie values from every Set-Cookie a response carries. */
  cookies(response: Response): void {
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(";")[0]!;
      const value = pair.slice(pair.indexOf("=") + 1);
      this.add(value, decodeURIComponent(value));
    }
  }

  /** Hidden form fields (request ids, CSRF tokens) of a page. */
  formFields(html: string): void {
    for (const match of html.matchAll(/name="(request_id|csrf)"[^>]*value="([^"]*)"/g))
      this.add(match[2]);
  }
}

const basic = (id: string, secret: string) =>
  `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

describe("audit trail", () => {
  it("reports every event type from real flows, with no secret in the JSON-lines output", async () => {
    const clock = manualClock(Date.UTC(2026, 11, 5, 12, 0, 0));
    const lines: string[] = [];
    const secrets = new Secrets();
    const server = await startServer({
      clock: clock.now,
      audit: jsonLinesAudit((line) => {
        lines.push(line);
      }),
      clients: [machineClient()],
      rateLimits: { introspect: { limit: 1, windowSeconds: 60 } },
      // No grace: the spent refresh token presented again is reuse at once.
      lifetimes: { refreshGraceMs: 0 },
    });
    const { base } = server;
    const resource = `${base}/mcp`;
    secrets.add(MACHINE.secret);
    const events = () => lines.map((line) => JSON.parse(line) as AuditEvent);
    const only = <T extends AuditEventType>(type: T) =>
      events().filter((event): event is Extract<AuditEvent, { type: T }> => event.type === type);

    // Registration.
    const client = await registerConfidential(base, { scope: SCOPE });
    secrets.add(client.secret);
    const auth = { authorization: basic(client.clientId, client.secret) };

    // Sign-in: refused once (a malformed user name), then accepted; consent denied.
    const browser = new Browser(async (input, init) => {
      const response = await fetch(input, init);
      secrets.cookies(response);
      return response;
    });
    const authorize = async () => {
      const { verifier, challenge } = await pkce();
      secrets.add(verifier, challenge);
      const query = new URLSearchParams({
        response_type: "code",
        client_id: client.clientId,
        redirect_uri: REDIRECT_URI,
        code_challenge: challenge,
        code_challenge_method: "S256",
        state: "st",
        scope: SCOPE,
        resource,
      });
      return { verifier, response: await browser.fetch(`${base}/authorize?${query}`) };
    };
    const first = await authorize();
    const loginPage = await first.response.text();
    expect(loginPage).toContain('name="username"');
    secrets.formFields(loginPage);
    const refused = await browser.submit(base, loginPage, { username: "not a valid name!" });
    expect(refused.status).toBe(400);
    const signedIn = await browser.submit(base, loginPage, { username: "alice" });
    expect(signedIn.status).toBe(303);
    const consentPage = await (
      await browser.fetch(new URL(signedIn.headers.get("location")!, base).href)
    ).text();
    secrets.formFields(consentPage);
    const denied = await browser.submit(base, consentPage, { decision: "deny" });
    expect(new URL(denied.headers.get("location")!).searchParams.get("error")).toBe(
      "access_denied",
    );

    // Consent granted, code → tokens (this request names its own correlation id).
    const second = await authorize();
    const secondPage = await second.response.text();
    secrets.formFields(secondPage);
    const approved = await browser.submit(base, secondPage, { decision: "allow" });
    const code = new URL(approved.headers.get("location")!).searchParams.get("code")!;
    secrets.add(code);
    const exchange = await fetch(`${base}/token`, {
      ...form({
        grant_type: "authorization_code",
        code,
        code_verifier: second.verifier,
        redirect_uri: REDIRECT_URI,
      }),
      headers: {
        ...auth,
        "content-type": "application/x-www-form-urlencoded",
        "x-request-id": "audit-test-42",
      },
    });
    expect(exchange.status).toBe(200);
    expect(exchange.headers.get("x-request-id")).toBe("audit-test-42");
    const tokens = (await exchange.json()) as { access_token: string; refresh_token: string };
    secrets.add(tokens.access_token, tokens.refresh_token);

    // Refresh: rotated once, then the spent token again is reuse, and the family is revoked.
    const tokenRequest = (values: Record<string, string>) =>
      fetch(`${base}/token`, {
        ...form(values),
        headers: { ...auth, "content-type": "application/x-www-form-urlencoded" },
      });
    const rotated = await tokenRequest({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
    });
    expect(rotated.status).toBe(200);
    const next = (await rotated.json()) as { access_token: string; refresh_token: string };
    secrets.add(next.access_token, next.refresh_token);
    await expectOAuthError(
      await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token }),
      400,
      "invalid_grant",
    );
    await expectOAuthError(
      await tokenRequest({ grant_type: "refresh_token", refresh_token: next.refresh_token }),
      400,
      "invalid_grant",
    );

    // Remembered consent (a confidential client, its exact redirect URI), then revocation.
    const third = await authorize();
    expect(third.response.status).toBe(303);
    const thirdCode = new URL(third.response.headers.get("location")!).searchParams.get("code")!;
    secrets.add(thirdCode);
    const thirdTokens = (await (
      await tokenRequest({
        grant_type: "authorization_code",
        code: thirdCode,
        code_verifier: third.verifier,
        redirect_uri: REDIRECT_URI,
      })
    ).json()) as { access_token: string; refresh_token: string };
    secrets.add(thirdTokens.access_token, thirdTokens.refresh_token);
    const revoked = await fetch(`${base}/revoke`, {
      ...form({ token: thirdTokens.refresh_token }),
      headers: { ...auth, "content-type": "application/x-www-form-urlencoded" },
    });
    expect(revoked.status).toBe(200);

    // Client credentials, then two introspections where one is allowed: a rate limit hit.
    const machineAuth = { authorization: basic(MACHINE.clientId, MACHINE.secret) };
    const machine = await fetch(`${base}/token`, {
      ...form({ grant_type: "client_credentials", resource }),
      headers: { ...machineAuth, "content-type": "application/x-www-form-urlencoded" },
    });
    expect(machine.status).toBe(200);
    const machineToken = ((await machine.json()) as { access_token: string }).access_token;
    secrets.add(machineToken);
    const introspect = () =>
      fetch(`${base}/introspect`, {
        ...form({ token: machineToken }),
        headers: { ...machineAuth, "content-type": "application/x-www-form-urlencoded" },
      });
    expect((await introspect()).status).toBe(200);
    await expectOAuthError(await introspect(), 429, "temporarily_unavailable");

    // Every type arrived, each with the AS clock's time and a request id.
    const types = new Set(events().map((event) => event.type));
    expect([...types].sort()).toEqual(
      [
        "client.registered",
        "signin.failed",
        "signin.succeeded",
        "consent.denied",
        "consent.granted",
        "code.issued",
        "token.issued",
        "refresh.rotated",
        "refresh.reuse_detected",
        "token.revoked",
        "client_credentials.granted",
        "rate_limit.hit",
      ].sort(),
    );
    for (const event of events()) {
      expect(event.time).toBe("2026-12-05T12:00:00.000Z");
      expect(event.requestId).toMatch(event.type === "token.issued" ? /./ : UUID);
    }

    const user = { subject: "alice", clientId: client.clientId, resource };
    const scopes = ["notes:read", "notes:write"];
    expect(only("client.registered")).toEqual([
      expect.objectContaining({
        clientId: client.clientId,
        clientName: "Confidential Client",
        redirectUris: [REDIRECT_URI],
        authMethod: "client_secret_basic",
        scopes,
      }),
    ]);
    expect(only("signin.failed")).toEqual([
      expect.objectContaining({
        provider: "dev",
        reason: "the sign-in form is invalid or forged",
        clientId: client.clientId,
        scopes,
        resource,
      }),
    ]);
    expect(only("signin.failed")[0]).not.toHaveProperty("subject");
    expect(only("signin.succeeded")).toEqual([
      expect.objectContaining({ ...user, scopes, provider: "dev" }),
    ]);
    expect(only("consent.denied")).toEqual([expect.objectContaining({ ...user, scopes })]);
    expect(only("consent.granted")).toEqual([
      expect.objectContaining({ ...user, scopes, remembered: false }),
      expect.objectContaining({ ...user, scopes, remembered: true }),
    ]);
    const codes = only("code.issued");
    expect(codes).toEqual([
      expect.objectContaining({ ...user, scopes, grantId: expect.any(String) }),
      expect.objectContaining({ ...user, scopes, grantId: expect.any(String) }),
    ]);
    const [firstGrant, thirdGrant] = codes.map((event) => event.grantId);
    expect(firstGrant).not.toBe(thirdGrant);
    expect(only("token.issued")).toEqual([
      expect.objectContaining({
        ...user,
        scopes,
        grantType: "authorization_code",
        grantId: firstGrant,
        refreshToken: true,
        requestId: "audit-test-42",
      }),
      expect.objectContaining({ ...user, scopes, grantId: thirdGrant, refreshToken: true }),
    ]);
    expect(only("refresh.rotated")).toEqual([
      expect.objectContaining({ ...user, scopes, grantId: firstGrant }),
    ]);
    // The reuse is reported once; the next refresh is refused as revoked, not as reuse.
    expect(only("refresh.reuse_detected")).toEqual([
      expect.objectContaining({ ...user, scopes, grantId: firstGrant, familyRevoked: true }),
    ]);
    expect(only("token.revoked")).toEqual([
      expect.objectContaining({
        ...user,
        scopes,
        grantId: thirdGrant,
        tokenType: "refresh_token",
      }),
    ]);
    expect(only("client_credentials.granted")).toEqual([
      expect.objectContaining({
        subject: MACHINE.clientId,
        clientId: MACHINE.clientId,
        scopes: ["notes:read"],
        resource,
        grantId: expect.any(String),
      }),
    ]);
    expect(only("rate_limit.hit")).toEqual([
      expect.objectContaining({ bucket: "introspect", retryAfterSeconds: 60 }),
    ]);

    // None of what was issued or used is anywhere in the output.
    const output = lines.join("\n");
    expect(secrets.values.size).toBeGreaterThan(20);
    for (const secret of secrets.values) expect(output.includes(secret), secret).toBe(false);
  });

  it("revoking an access token reports it as one", async () => {
    const events: AuditEvent[] = [];
    const server = await startServer({
      audit: (event) => {
        events.push(event);
      },
      clients: [machineClient()],
    });
    const machineAuth = { authorization: basic(MACHINE.clientId, MACHINE.secret) };
    const issued = await fetch(`${server.base}/token`, {
      ...form({ grant_type: "client_credentials", resource: `${server.base}/mcp` }),
      headers: { ...machineAuth, "content-type": "application/x-www-form-urlencoded" },
    });
    const token = ((await issued.json()) as { access_token: string }).access_token;
    const revoked = await fetch(`${server.base}/revoke`, {
      ...form({ token }),
      headers: { ...machineAuth, "content-type": "application/x-www-form-urlencoded" },
    });
    expect(revoked.status).toBe(200);
    const granted = events.find((event) => event.type === "client_credentials.granted");
    expect(events.filter((event) => event.type === "token.revoked")).toEqual([
      expect.objectContaining({
        tokenType: "access_token",
        subject: MACHINE.clientId,
        clientId: MACHINE.clientId,
        scopes: ["notes:read"],
        resource: `${server.base}/mcp`,
        grantId: granted?.grantId,
      }),
    ]);
  });

  it("a sink that throws, rejects or never answers breaks nothing, and each failure kind is logged once", async () => {
    const logger = capturingLogger();
    let calls = 0;
    const never = deferred();
    const server = await startServer({
      logger,
      clients: [machineClient()],
      audit: (event) => {
        calls++;
        if (event.type !== "client_credentials.granted") return;
        if (calls % 3 === 1) throw new TypeError("sink is broken");
        if (calls % 3 === 2) return Promise.reject(new RangeError("sink is full"));
        return never.promise; // Slow: never settles while the test runs.
      },
    });
    const machineAuth = { authorization: basic(MACHINE.clientId, MACHINE.secret) };
    for (let round = 0; round < 6; round++) {
      const response = await fetch(`${server.base}/token`, {
        ...form({ grant_type: "client_credentials", resource: `${server.base}/mcp` }),
        headers: { ...machineAuth, "content-type": "application/x-www-form-urlencoded" },
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { access_token?: string }).access_token).toBeTruthy();
    }
    expect(calls).toBe(6);
    const failures = logger.at("error").filter((line) => line.message.includes("audit sink"));
    expect(failures.map((line) => line.fields.kind).sort()).toEqual(["RangeError", "TypeError"]);
    never.resolve();
  });

  it("refuses an audit option that is not a function, at construction", async () => {
    await expect(startServer({ audit: "stdout" as never })).rejects.toThrow(
      /audit must be a function/,
    );
  });
});
