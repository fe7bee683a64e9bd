/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP 2025-11-25):
 * the server fetches a URL a stranger gave it, so every rule against SSRF applies (RFC 9700
 * §4.15 and the draft's security considerations): https only, public addresses only (also
 * after redirects), bounded size and time, JSON, and the document must name itself.
 *
 * Documents come from `upstream`, a stand-in for third-party web servers passed as the
 * `metadataDocuments.fetch` option; it records every URL the server asked for.
 */

import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { MetadataDocumentOptions } from "../../../src/auth/index.ts";
import { listen } from "../../helpers/http.ts";
import {
  authorize,
  authorizeUrl,
  Browser,
  expectErrorPage,
  expectOAuthError,
  mcpStatus,
  openAuthorize,
  pkce,
  postForm,
  publicDns,
  REDIRECT_URI,
  redeem,
  startServer,
  type TestServer,
  tokensOf,
} from "./support.ts";

const CLIENT = "https://client.example/oauth/client.json";

type Handler = (url: URL, init: RequestInit | undefined) => Response | Promise<Response>;

function upstream(routes: Record<string, Handler> = {}) {
  const calls: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    calls.push(url.href);
    const handler = routes[url.href];
    return handler ? handler(url, init) : new Response("not found", { status: 404 });
  };
  return { fetch, calls };
}

function documentFor(clientId: string, extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: "Document Client",
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: "none",
    ...extra,
  };
}

const json = (body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    headers: { "content-type": "application/json", ...headers },
  });

/** The stand-in web servers' names resolve to a public address (there is no DNS here). */

async function serverWith(
  routes: Record<string, Handler>,
  options: Partial<MetadataDocumentOptions> = {},
): Promise<{ server: TestServer; calls: string[] }> {
  const fake = upstream(routes);
  const server = await startServer({
    metadataDocuments: { fetch: fake.fetch, resolveHost: publicDns, ...options },
  });
  return { server, calls: fake.calls };
}

/** /authorize shows our error page and /token answers invalid_client; nothing is cached. */
async function refusedEverywhere(server: TestServer, clientId: string): Promise<void> {
  const { challenge, verifier } = await pkce();
  const page = await fetch(authorizeUrl(server, { clientId, challenge }), { redirect: "manual" });
  await expectErrorPage(page);
  const token = await postForm(`${server.base}/token`, {
    grant_type: "authorization_code",
    code: "x",
    code_verifier: verifier,
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
  });
  await expectOAuthError(token, 401, "invalid_client");
  expect(server.store.written("as:cimd:")).toBe(0);
  expect(server.store.written("as:pending:")).toBe(0);
}

describe("client_id URLs refused before any request is made", () => {
  it.each([
    ["http", "http://client.example/oauth/client.json"],
    ["loopback IPv4", "https://127.0.0.1/client.json"],
    ["another loopback IPv4", "https://127.1.2.3/client.json"],
    ["loopback as a decimal number", "https://2130706433/client.json"],
    ["loopback in hex shorthand", "https://0x7f.1/client.json"],
    ["0.0.0.0", "https://0.0.0.0/client.json"],
    ["10/8", "https://10.0.0.5/client.json"],
    ["172.16/12", "https://172.16.0.1/client.json"],
    ["192.168/16", "https://192.168.1.1/client.json"],
    ["carrier-grade NAT", "https://100.64.0.1/client.json"],
    ["cloud metadata", "https://169.254.169.254/latest/meta-data/"],
    ["IPv6 loopback", "https://[::1]/client.json"],
    ["IPv6 unique local", "https://[fd00::1]/client.json"],
    ["IPv6 link-local", "https://[fe80::1]/client.json"],
    ["IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/client.json"],
    ["IPv4-mapped metadata address", "https://[::ffff:169.254.169.254]/latest"],
    ["localhost", "https://localhost/client.json"],
    ["a .localhost name", "https://app.localhost/client.json"],
    ["localhost with a trailing dot", "https://localhost./client.json"],
    [
      "an internal name with a trailing dot",
      "https://metadata.google.internal./computeMetadata/v1/",
    ],
    ["a .local name", "https://printer.local/client.json"],
    ["a .internal name", "https://metadata.google.internal/computeMetadata/v1/"],
    ["userinfo", "https://user:pass@client.example/oauth/client.json"],
    ["the root path", "https://client.example/"],
    ["a query", "https://client.example/oauth/client.json?x=1"],
    ["a fragment", "https://client.example/oauth/client.json#x"],
    ["a dot segment", "https://client.example/oauth/../client.json"],
    ["a single-dot segment", "https://client.example/./oauth/client.json"],
    ["a percent-encoded dot segment", "https://client.example/oauth/%2E%2e/client.json"],
  ])("%s", async (_name, clientId) => {
    const { server, calls } = await serverWith({});
    await refusedEverywhere(server, clientId);
    expect(calls).toEqual([]);
  });

  it("allowLoopback opens loopback only, never private or link-local addresses", async () => {
    const { server, calls } = await serverWith({}, { allowLoopback: true });
    for (const clientId of [
      "http://10.0.0.5/client.json",
      "https://10.0.0.5/client.json",
      "http://169.254.169.254/latest/meta-data/",
      "http://client.example/client.json",
    ]) {
      await refusedEverywhere(server, clientId);
    }
    expect(calls).toEqual([]);
  });
});

describe("documents refused after fetching", () => {
  it.each<[string, Handler, number]>([
    [
      "a redirect to a private address",
      () => new Response(null, { status: 302, headers: { location: "https://169.254.169.254/x" } }),
      1,
    ],
    [
      "a redirect to loopback",
      () => new Response(null, { status: 307, headers: { location: "https://127.0.0.1/x.json" } }),
      1,
    ],
    [
      "a redirect to http",
      () =>
        new Response(null, {
          status: 301,
          headers: { location: "http://client.example/oauth/client.json" },
        }),
      1,
    ],
    [
      "an oversized document",
      () => json(documentFor(CLIENT, { client_name: "x".repeat(10_000) })),
      1,
    ],
    [
      "an oversized document without Content-Length",
      () => {
        const body = JSON.stringify(documentFor(CLIENT, { client_name: "x".repeat(10_000) }));
        const bytes = new TextEncoder().encode(body);
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 1024)
              controller.enqueue(bytes.slice(i, i + 1024));
            controller.close();
          },
        });
        return new Response(stream, { headers: { "content-type": "application/json" } });
      },
      1,
    ],
    [
      "a non-JSON document",
      () => new Response("<html>hello</html>", { headers: { "content-type": "text/html" } }),
      1,
    ],
    ["a JSON array", () => json([documentFor(CLIENT)]), 1],
    ["an error status", () => new Response("oops", { status: 500 }), 1],
    [
      "a document naming another client_id",
      () => json(documentFor("https://evil.example/oauth/client.json")),
      1,
    ],
    ["a document naming its URL with a trailing slash", () => json(documentFor(`${CLIENT}/`)), 1],
    [
      "a document using client_secret_basic",
      () => json(documentFor(CLIENT, { token_endpoint_auth_method: "client_secret_basic" })),
      1,
    ],
    [
      "a document using client_secret_post",
      () => json(documentFor(CLIENT, { token_endpoint_auth_method: "client_secret_post" })),
      1,
    ],
    [
      "a document with a javascript: redirect URI",
      () => json(documentFor(CLIENT, { redirect_uris: ["javascript:alert(1)"] })),
      1,
    ],
    [
      "a document with an http redirect URI on a public host",
      () => json(documentFor(CLIENT, { redirect_uris: ["http://client.example/cb"] })),
      1,
    ],
  ])("%s", async (_name, handler, fetches) => {
    const { server, calls } = await serverWith({ [CLIENT]: handler });
    const { challenge } = await pkce();
    const page = await fetch(authorizeUrl(server, { clientId: CLIENT, challenge }), {
      redirect: "manual",
    });
    await expectErrorPage(page);
    expect(calls).toHaveLength(fetches);
    expect(calls[0]).toBe(CLIENT);
    expect(server.store.written("as:cimd:")).toBe(0);
    expect(server.store.written("as:pending:")).toBe(0);
  });

  it("gives up on an upstream that does not answer in time", async () => {
    const { server, calls } = await serverWith(
      {
        [CLIENT]: (_url, init) =>
          new Promise<Response>((_resolve, reject) => {
            init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
          }),
      },
      { timeoutMs: 200 },
    );
    const { challenge } = await pkce();
    const page = await fetch(authorizeUrl(server, { clientId: CLIENT, challenge }), {
      redirect: "manual",
    });
    await expectErrorPage(page);
    expect(calls).toEqual([CLIENT]);
  });

  it("follows no more than a few redirects", async () => {
    const hop = (n: number) => `https://client.example/hop/${n}`;
    const routes: Record<string, Handler> = {
      [CLIENT]: () => new Response(null, { status: 302, headers: { location: hop(1) } }),
    };
    for (let n = 1; n < 10; n++) {
      routes[hop(n)] = () => new Response(null, { status: 302, headers: { location: hop(n + 1) } });
    }
    const { server, calls } = await serverWith(routes);
    const { challenge } = await pkce();
    await expectErrorPage(
      await fetch(authorizeUrl(server, { clientId: CLIENT, challenge }), { redirect: "manual" }),
    );
    expect(calls.length).toBeLessThanOrEqual(4);
  });
});

describe("a valid metadata document client", () => {
  it("completes the flow from a document on loopback (allowLoopback), with a local-only warning", async () => {
    const documents = new Hono();
    documents.get("/oauth/client.json", (c) =>
      c.json(documentFor(new URL(c.req.url).href, { client_name: "Loopback Doc Client" })),
    );
    const origin = await listen(documents);
    const clientId = `${origin}/oauth/client.json`;
    const server = await startServer({ metadataDocuments: { allowLoopback: true } });
    const { verifier, challenge } = await pkce();
    const browser = new Browser();

    const { response, html } = await openAuthorize(browser, server, { clientId, challenge });
    expect(response.status).toBe(200);
    expect(html).toContain("Loopback Doc Client");
    expect(html).toContain("Any program on this computer could claim to be it");

    const allowed = await browser.submit(server.base, html, { decision: "allow" });
    expect(allowed.status).toBe(303);
    const code = new URL(allowed.headers.get("location")!).searchParams.get("code")!;
    const tokens = await tokensOf(
      await redeem(server, { clientId, code, verifier, redirectUri: REDIRECT_URI }),
    );
    expect(await mcpStatus(server, tokens.access_token)).toBe(200);
  });

  it("shows no local-only warning when the document's redirect URI is https", async () => {
    const redirectUri = "https://client.example/callback";
    const { server, calls } = await serverWith({
      [CLIENT]: () => json(documentFor(CLIENT, { redirect_uris: [redirectUri] })),
    });
    const { challenge } = await pkce();
    const { response, html } = await openAuthorize(new Browser(), server, {
      clientId: CLIENT,
      challenge,
      redirectUri,
    });
    expect(response.status).toBe(200);
    expect(html).toContain("Document Client");
    expect(html).not.toContain("Any program on this computer");
    expect(calls).toEqual([CLIENT]);
    // The document is cached: a second flow does not fetch it again.
    const { location } = await authorize(server, { clientId: CLIENT, challenge, redirectUri });
    expect(location.searchParams.get("iss")).toBe(server.base);
    expect(calls).toEqual([CLIENT]);
  });
});
