/**
 * Remembered consent approves a request unasked only when the client proves who it is
 * (issue 10 point 5; RFC 8252 §8.6; MCP 2025-11-25 authorization, "Localhost Redirect URI
 * Risks"). A public client's id can be sent by any program with its own PKCE challenge; a
 * loopback redirect on another port is another program; a metadata document on loopback can
 * be named by anyone. Those are asked again, every time, and nothing is remembered for them.
 * Confidential clients with an exact registered redirect keep remembered consent.
 */

import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import {
  type AuthorizeParams,
  authorize,
  authorizeUrl,
  Browser,
  KEYS,
  pkce,
  publicDns,
  REDIRECT_URI,
  registerConfidential,
  registerPublic,
  startServer,
  type TestServer,
} from "./support.ts";

const OTHER_PORT = "http://127.0.0.1:5555/callback";
const HTTPS_REDIRECT = "https://client.example/callback";
const DOCUMENT = "https://client.example/oauth/client.json";

/** A server whose metadata documents come from `documents`, a stand-in for the web. */
async function serverWithDocuments(documents: Record<string, unknown>): Promise<TestServer> {
  const fetch: typeof globalThis.fetch = async (input) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const document = documents[url.href];
    return document
      ? Response.json(document)
      : new Response("not found", { status: 404, headers: { "content-type": "text/plain" } });
  };
  return startServer({
    metadataDocuments: { fetch, resolveHost: publicDns },
    redirectSchemes: ["cursor"],
  });
}

/** A private_key_jwt metadata document for DOCUMENT, returning to `redirectUri`. */
async function keyDocument(redirectUri: string): Promise<Record<string, unknown>> {
  const { publicKey } = await generateKeyPair("ES256");
  return {
    client_id: DOCUMENT,
    client_name: "Document Client",
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] },
  };
}

/**
 * Alice approves `first` in her browser, then the same client asks again with `second`
 * (another PKCE challenge, as another program would bring): the response to that.
 */
async function askTwice(
  server: TestServer,
  first: Omit<AuthorizeParams, "challenge">,
  second: Omit<AuthorizeParams, "challenge"> = first,
): Promise<{ browser: Browser; again: Response; writes: number }> {
  const browser = new Browser();
  await authorize(server, { ...first, challenge: (await pkce()).challenge }, { browser });
  const writes = server.store.writes.length;
  const again = await browser.fetch(
    authorizeUrl(server, { ...second, challenge: (await pkce()).challenge }),
  );
  return { browser, again, writes };
}

/** The consent page, not a redirect: no code was issued for the second request. */
async function expectAskedAgain(
  server: TestServer,
  result: { again: Response; writes: number },
  shows: string,
): Promise<void> {
  const html = await result.again.text();
  expect(result.again.status, html).toBe(200);
  expect(result.again.headers.get("location")).toBeNull();
  expect(html).toContain('name="decision"');
  expect(html).toContain(shows);
  const since = server.store.writes.slice(result.writes);
  expect(since.filter((key) => key.startsWith(KEYS.code))).toEqual([]);
  expect(since.filter((key) => key.startsWith(KEYS.consent))).toEqual([]);
}

function expectRemembered(result: { again: Response }, redirectUri: string): void {
  expect(result.again.status).toBe(303);
  const location = new URL(result.again.headers.get("location")!);
  expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
  expect(location.searchParams.get("code")).toBeTruthy();
}

describe("a different local program with the same client_id (RFC 8252 §8.6)", () => {
  it("is asked again: another loopback port and its own PKCE challenge get no silent code", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const result = await askTwice(server, { clientId }, { clientId, redirectUri: OTHER_PORT });
    // The page names where the code would go, so the user can tell.
    await expectAskedAgain(server, result, "127.0.0.1:5555");
  });

  it("is asked again for a confidential client's loopback redirect on another port", async () => {
    const server = await startServer();
    const { clientId } = await registerConfidential(server.base);
    const result = await askTwice(server, { clientId }, { clientId, redirectUri: OTHER_PORT });
    await expectAskedAgain(server, result, "127.0.0.1:5555");
  });
});

describe("clients whose identity cannot be assured are asked every time", () => {
  it("a public client, even with the same redirect URI; nothing is remembered for it", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const result = await askTwice(server, { clientId });
    await expectAskedAgain(server, result, "127.0.0.1:9");
    expect(server.store.written(KEYS.consent)).toBe(0);
  });

  it("a public client with an https redirect URI", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base, { redirect_uris: [HTTPS_REDIRECT] });
    const params = { clientId, redirectUri: HTTPS_REDIRECT };
    await expectAskedAgain(server, await askTwice(server, params), "client.example");
    expect(server.store.written(KEYS.consent)).toBe(0);
  });

  it("a public client with a private-use scheme", async () => {
    const server = await serverWithDocuments({});
    const redirectUri = "cursor://oauth/callback";
    const clientId = await registerPublic(server.base, { redirect_uris: [redirectUri] });
    const browser = new Browser();
    const { location } = await authorize(
      server,
      { clientId, redirectUri, challenge: (await pkce()).challenge },
      { browser },
    );
    expect(location.protocol).toBe("cursor:");
    const again = await browser.fetch(
      authorizeUrl(server, { clientId, redirectUri, challenge: (await pkce()).challenge }),
    );
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('name="decision"');
    expect(server.store.written(KEYS.consent)).toBe(0);
  });

  it("a client configured by the operator as public", async () => {
    const server = await startServer({
      clients: [
        {
          client_id: "configured-public",
          client_name: "Configured",
          redirect_uris: [REDIRECT_URI],
          token_endpoint_auth_method: "none",
        },
      ],
    });
    const result = await askTwice(server, { clientId: "configured-public" });
    await expectAskedAgain(server, result, "Configured");
  });

  it("a metadata-document client on loopback, even one that signs with its own key", async () => {
    const server = await serverWithDocuments({ [DOCUMENT]: await keyDocument(REDIRECT_URI) });
    const result = await askTwice(server, { clientId: DOCUMENT });
    await expectAskedAgain(server, result, "Any program on this computer could claim to be it");
    expect(server.store.written(KEYS.consent)).toBe(0);
  });
});

describe("clients that prove who they are keep remembered consent", () => {
  it("a confidential client with its exact loopback redirect", async () => {
    const server = await startServer();
    const { clientId } = await registerConfidential(server.base);
    expectRemembered(await askTwice(server, { clientId }), REDIRECT_URI);
    expect(server.store.written(KEYS.consent)).toBe(1);
  });

  it("a confidential client with its exact https redirect", async () => {
    const server = await startServer();
    const { clientId } = await registerConfidential(server.base, {
      redirect_uris: [HTTPS_REDIRECT],
    });
    const params = { clientId, redirectUri: HTTPS_REDIRECT };
    expectRemembered(await askTwice(server, params), HTTPS_REDIRECT);
  });

  it("a metadata-document client with private_key_jwt and an https redirect", async () => {
    const server = await serverWithDocuments({ [DOCUMENT]: await keyDocument(HTTPS_REDIRECT) });
    const params = { clientId: DOCUMENT, redirectUri: HTTPS_REDIRECT };
    expectRemembered(await askTwice(server, params), HTTPS_REDIRECT);
  });

  it("but not past rememberConsentDays: 0, which asks every time", async () => {
    const server = await startServer({ rememberConsentDays: 0 });
    const { clientId } = await registerConfidential(server.base);
    await expectAskedAgain(server, await askTwice(server, { clientId }), "127.0.0.1:9");
    expect(server.store.written(KEYS.consent)).toBe(0);
  });
});
