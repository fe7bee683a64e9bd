/**
 * SSRF through host names (issue 10, point 3). A name that resolves to a loopback, private,
 * link-local, CGNAT, unique-local, IPv4-mapped, translated or cloud metadata address is
 * refused like the address itself, for every fetch the authorization server makes on a
 * stranger's say-so (Client ID Metadata Documents, a client's jwks_uri, an upstream
 * provider's endpoints). The connection goes only to the address that was vetted, so a DNS
 * answer that changes after the check cannot move it. And the stranger learns nothing of
 * what the fetch found: one message, whatever happened.
 *
 * There is no DNS on this machine: names are answered by a resolver passed as `resolveHost`,
 * the seam the system resolver fills by default. "internal" is a real HTTP server on loopback
 * standing for what must never be reached; it answers anything it is asked, so reaching it
 * would show.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import {
  FetchRefusedError,
  type MetadataDocumentOptions,
  upstreamOAuth,
} from "../../../src/auth/index.ts";
import { checkUrl, type SafeFetchOptions } from "../../../src/util/ssrf.ts";
import { listen } from "../../helpers/http.ts";
import {
  authorizeUrl,
  Browser,
  expectErrorPage,
  expectOAuthError,
  openAuthorize,
  pkce,
  postForm,
  REDIRECT_URI,
  register,
  startServer,
  type TestServer,
} from "./support.ts";

const REFUSED =
  "The URL is not allowed: only https URLs of hosts with public addresses are fetched";
const CIMD_FAILED = "The client metadata document could not be fetched";
const PUBLIC = "93.184.216.34";

interface Internal {
  port: number;
  requests: string[];
}

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
});

/**
 * An HTTP server on a loopback address that records every request and answers each with a
 * JSON document naming the URL it was asked for as client_id (a valid metadata document).
 */
async function internalServer(
  address = "127.0.0.1",
  port = 0,
  name = "Internal",
): Promise<Internal> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.headers.host}${request.url}`);
    const self = `http://${request.headers.host}${request.url}`;
    response.setHeader("content-type", "application/json");
    response.end(
      JSON.stringify({
        client_id: self,
        client_name: name,
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
        keys: [],
      }),
    );
  });
  await new Promise<void>((done) => server.listen(port, address, done));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, requests };
}

/** A resolver that answers from `answer` and records what it was asked, in order. */
function resolver(answer: (host: string, call: number) => readonly string[]) {
  const asked: string[] = [];
  return {
    asked,
    resolveHost: async (host: string) => {
      asked.push(host);
      return answer(host, asked.filter((h) => h === host).length);
    },
  };
}

async function refusal(url: string, options: SafeFetchOptions): Promise<FetchRefusedError> {
  const error = await checkUrl(new URL(url), options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, url).toBeInstanceOf(FetchRefusedError);
  return error as FetchRefusedError;
}

const NOT_PUBLIC: [string, string][] = [
  ["loopback", "127.0.0.1"],
  ["another loopback address", "127.53.0.1"],
  ["IPv6 loopback", "::1"],
  ["the unspecified address", "0.0.0.0"],
  ["the IPv6 unspecified address", "::"],
  ["10/8", "10.0.0.5"],
  ["172.16/12", "172.16.3.4"],
  ["192.168/16", "192.168.1.1"],
  ["carrier-grade NAT", "100.64.0.1"],
  ["Alibaba's metadata address (CGNAT)", "100.100.100.200"],
  ["link-local", "169.254.10.10"],
  ["the cloud metadata address", "169.254.169.254"],
  ["IPv6 link-local", "fe80::1"],
  ["unique-local", "fd12:3456::1"],
  ["AWS's IPv6 metadata address", "fd00:ec2::254"],
  ["IPv4-mapped loopback", "::ffff:127.0.0.1"],
  ["IPv4-mapped metadata address", "::ffff:169.254.169.254"],
  ["IPv4-mapped loopback in hex", "::ffff:7f00:1"],
  ["IPv4-compatible loopback", "::127.0.0.1"],
  ["NAT64 of the metadata address", "64:ff9b::a9fe:a9fe"],
  ["local-use NAT64", "64:ff9b:1::a00:5"],
  ["6to4 of the metadata address", "2002:a9fe:a9fe::1"],
  ["Teredo", "2001:0:4136:e378::1"],
  ["IPv4 documentation", "192.0.2.1"],
  ["IPv6 documentation", "2001:db8::1"],
  ["benchmarking", "198.18.0.1"],
  ["IETF protocol assignments", "192.0.0.8"],
  ["multicast", "224.0.0.1"],
  ["IPv6 multicast", "ff02::1"],
  ["reserved", "240.0.0.1"],
  ["broadcast", "255.255.255.255"],
  ["discard-only", "100::1"],
  ["something that is not an address", "0x7f.1"],
];

describe("names resolving to addresses that are not public", () => {
  it.each(NOT_PUBLIC)("a name resolving to %s (%s) is refused", async (_name, address) => {
    const dns = resolver(() => [address]);
    const error = await refusal("https://docs.attacker.test/client.json", dns);
    expect(error.code).toBe("ERR_GUARD_URL_REFUSED");
    // The message is the same for every refusal; what was found is for the operator.
    expect(error.message).toBe(REFUSED);
    expect(error.detail).toContain(address);
    expect(dns.asked).toEqual(["docs.attacker.test"]);
  });

  it.each([
    ["a public and a private answer", [PUBLIC, "10.0.0.5"]],
    ["a private and a public answer", ["127.0.0.1", PUBLIC]],
    ["no answer at all", []],
  ])("%s is refused", async (_name, answer) => {
    const error = await refusal(
      "https://docs.attacker.test/x",
      resolver(() => answer),
    );
    expect(error.message).toBe(REFUSED);
  });

  it("a name that does not resolve is refused with the same message", async () => {
    const error = await refusal("https://nowhere.attacker.test/x", {
      resolveHost: async () => {
        throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.attacker.test"), {
          code: "ENOTFOUND",
        });
      },
    });
    expect(error.message).toBe(REFUSED);
    expect(error.detail).toContain("did not resolve");
  });

  it.each([PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "2001:4860:4860::8888"])(
    "a name resolving to the public address %s is allowed, and those addresses are the ones to use",
    async (address) => {
      const addresses = await checkUrl(new URL("https://docs.example.com/x"), {
        resolveHost: async () => [address],
      });
      expect(addresses).toEqual([address]);
    },
  );

  it("allowPrivateNetwork opens private networks, never loopback, link-local or metadata", async () => {
    const options = (address: string): SafeFetchOptions => ({
      allowPrivateNetwork: true,
      resolveHost: async () => [address],
    });
    for (const address of ["10.0.0.5", "172.20.1.1", "192.168.1.1", "100.64.0.1", "fd12::1"]) {
      expect(await checkUrl(new URL("https://idp.corp.test/x"), options(address))).toEqual([
        address,
      ]);
    }
    for (const address of [
      "127.0.0.1",
      "::1",
      "169.254.169.254",
      "fd00:ec2::254",
      "fe80::1",
      "::ffff:10.0.0.5",
      "0.0.0.0",
    ]) {
      expect((await refusal("https://idp.corp.test/x", options(address))).message).toBe(REFUSED);
    }
  });
});

/** An authorization server whose metadata-document fetches resolve names with `dns`. */
function serverWith(options: Partial<MetadataDocumentOptions>): Promise<TestServer> {
  return startServer({ metadataDocuments: { timeoutMs: 2000, ...options } });
}

/** /authorize's error page and /token's error for a metadata-document client_id. */
async function cimdRefusal(server: TestServer, clientId: string) {
  const { challenge, verifier } = await pkce();
  const page = await fetch(authorizeUrl(server, { clientId, challenge }), { redirect: "manual" });
  const html = await expectErrorPage(page);
  const token = await expectOAuthError(
    await postForm(`${server.base}/token`, {
      grant_type: "authorization_code",
      code: "x",
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
    }),
    401,
    "invalid_client",
  );
  expect(server.store.written("as:cimd:")).toBe(0);
  expect(server.store.written("as:pending:")).toBe(0);
  expect(server.store.written("as:code:")).toBe(0);
  return { html, description: token.error_description };
}

describe("Client ID Metadata Documents on names that resolve inward", () => {
  it.each([
    ["loopback", ["127.0.0.1"]],
    ["a private network", ["10.0.0.5"]],
    ["the cloud metadata address", ["169.254.169.254"]],
    ["AWS's IPv6 metadata address", ["fd00:ec2::254"]],
    ["IPv4-mapped loopback", ["::ffff:127.0.0.1"]],
    ["carrier-grade NAT", ["100.64.0.1"]],
    ["IPv6 link-local", ["fe80::1"]],
    ["public, then loopback in the same answer", [PUBLIC, "127.0.0.1"]],
  ])(
    "a client_id whose name resolves to %s is refused before any request",
    async (_name, answer) => {
      const internal = await internalServer();
      const dns = resolver(() => answer);
      const server = await serverWith({ resolveHost: dns.resolveHost });
      const clientId = `https://docs.attacker.test:${internal.port}/client.json`;
      const { html, description } = await cimdRefusal(server, clientId);
      expect(html).toContain(CIMD_FAILED);
      expect(description).toBe(CIMD_FAILED);
      for (const address of answer) expect(html).not.toContain(address);
      expect(html).not.toMatch(/resolve/i);
      expect(internal.requests).toEqual([]);
      expect(dns.asked).toContain("docs.attacker.test");
    },
  );

  it("says the same thing whatever the fetch found, so nothing can be learnt from it", async () => {
    const internal = await internalServer();
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json" },
      });
    // Each stranger's name leads to a different outcome; the answers must not differ.
    const outcomes: Record<string, (url: URL, init?: RequestInit) => Promise<Response>> = {
      "status.attacker.test": async () => new Response("secret admin page", { status: 500 }),
      "html.attacker.test": async () => new Response("<html>router login</html>"),
      "huge.attacker.test": async () => json({ padding: "x".repeat(100_000) }),
      "empty.attacker.test": async () => new Response(null, { status: 204 }),
      "hop.attacker.test": async () =>
        new Response(null, { status: 302, headers: { location: "http://169.254.169.254/" } }),
      "down.attacker.test": async () => {
        throw new TypeError("fetch failed: connect ECONNREFUSED");
      },
      "slow.attacker.test": (_url, init) =>
        new Promise<Response>((_done, fail) =>
          init?.signal?.addEventListener("abort", () => fail(init.signal?.reason)),
        ),
      "other.attacker.test": async () =>
        json({ client_id: "https://elsewhere.example/c.json", redirect_uris: [REDIRECT_URI] }),
    };
    const fake: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const outcome = outcomes[url.hostname];
      if (!outcome) throw new Error(`unexpected fetch of ${url.href}`);
      return outcome(url, init);
    };
    const names: Record<string, readonly string[]> = {
      "private.attacker.test": ["10.0.0.5"],
      "loopback.attacker.test": ["127.0.0.1"],
      "metadata.attacker.test": ["169.254.169.254"],
    };
    const server = await serverWith({
      fetch: fake,
      timeoutMs: 300,
      resolveHost: async (host) => {
        if (host === "nxdomain.attacker.test") throw new Error("ENOTFOUND");
        return names[host] ?? [PUBLIC];
      },
    });
    const hosts = [
      ...Object.keys(names),
      "nxdomain.attacker.test",
      ...Object.keys(outcomes).filter((host) => host !== "other.attacker.test"),
    ];
    const answers = new Set<string>();
    const pages = new Set<string>();
    for (const host of hosts) {
      const { html, description } = await cimdRefusal(
        server,
        `https://${host}:${internal.port}/client.json`,
      );
      answers.add(description ?? "");
      // The page repeats the client_id nowhere; strip nothing and compare whole pages.
      pages.add(html);
    }
    expect([...answers]).toEqual([CIMD_FAILED]);
    expect(pages.size).toBe(1);
    const [page] = [...pages];
    for (const leak of ["500", "secret", "router", "169.254", "10.0.0.5", "127.0.0.1", "JSON"]) {
      expect(page).not.toContain(leak);
    }
    expect(internal.requests).toEqual([]);
    // A document that was fetched (from a public address) but names another client is a
    // different refusal, and may say so: it tells nothing about the network.
    const other = await cimdRefusal(
      server,
      `https://other.attacker.test:${internal.port}/client.json`,
    );
    expect(other.description).toContain("does not match");
  });
});

describe("the connection goes only to the address that was vetted", () => {
  it("a name whose answer changes after the check is fetched from the first answer (pinned)", async () => {
    // Two servers on one port, at two loopback addresses: the vetted one and an impostor.
    const vetted = await internalServer("127.0.0.2", 0, "Vetted Document");
    const impostor = await internalServer("127.0.0.3", vetted.port, "Impostor Document");
    const dns = resolver((_host, call) => (call === 1 ? ["127.0.0.2"] : ["127.0.0.3"]));
    const server = await serverWith({ allowLoopback: true, resolveHost: dns.resolveHost });
    const clientId = `http://localhost:${vetted.port}/client.json`;
    const { challenge } = await pkce();
    const { response, html } = await openAuthorize(new Browser(), server, { clientId, challenge });
    expect(response.status).toBe(200);
    expect(html).toContain("Vetted Document");
    expect(dns.asked).toEqual(["localhost"]);
    expect(vetted.requests).toEqual([`GET localhost:${vetted.port}/client.json`]);
    expect(impostor.requests).toEqual([]);
  });

  it("a name that answers public, then loopback (DNS rebinding), never reaches loopback", async () => {
    const internal = await internalServer();
    const dns = resolver((_host, call) => (call === 1 ? [PUBLIC] : ["127.0.0.1"]));
    const server = await serverWith({ resolveHost: dns.resolveHost });
    const clientId = `https://rebind.attacker.test:${internal.port}/client.json`;
    const { html } = await cimdRefusal(server, clientId);
    expect(html).toContain(CIMD_FAILED);
    expect(internal.requests).toEqual([]);
    // /authorize and /token each resolved once, and each connected where that answer said.
    expect(dns.asked).toEqual(["rebind.attacker.test", "rebind.attacker.test"]);
  });

  it("without a resolver passed in, the system's resolves names (localhost here) and the fetch is pinned", async () => {
    const documents = await internalServer("127.0.0.1", 0, "System Resolver Document");
    const server = await serverWith({ allowLoopback: true });
    const clientId = `http://localhost:${documents.port}/client.json`;
    const { challenge } = await pkce();
    const { response, html } = await openAuthorize(new Browser(), server, { clientId, challenge });
    expect(response.status).toBe(200);
    expect(html).toContain("System Resolver Document");
    expect(documents.requests).toEqual([`GET localhost:${documents.port}/client.json`]);
  });

  it("without a resolver passed in, this machine's own name is refused (it is not public)", async () => {
    const internal = await internalServer();
    const server = await serverWith({});
    const { html } = await cimdRefusal(
      server,
      `https://${hostname()}:${internal.port}/client.json`,
    );
    expect(html).toContain(CIMD_FAILED);
    expect(internal.requests).toEqual([]);
  });
});

describe("a private_key_jwt client's jwks_uri", () => {
  async function keyClient(server: TestServer, jwksUri: string) {
    const { privateKey } = await generateKeyPair("ES256");
    const response = await register(server.base, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "private_key_jwt",
      jwks_uri: jwksUri,
    });
    expect(response.status).toBe(201);
    const { client_id: clientId } = (await response.json()) as { client_id: string };
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({
      iss: clientId,
      sub: clientId,
      aud: `${server.base}/token`,
      iat: now,
      exp: now + 60,
      jti: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .sign(privateKey);
    return { clientId, assertion };
  }

  it.each([
    ["resolves to loopback", () => ["127.0.0.1"]],
    ["resolves to the metadata address", () => ["169.254.169.254"]],
    ["answers public, then loopback", (call: number) => (call === 1 ? [PUBLIC] : ["127.0.0.1"])],
  ])("whose name %s is never fetched, and the client gets one answer", async (_name, answer) => {
    const internal = await internalServer();
    const dns = resolver((_host, call) => answer(call));
    const server = await serverWith({ resolveHost: dns.resolveHost });
    const { assertion } = await keyClient(
      server,
      `https://keys.attacker.test:${internal.port}/jwks.json`,
    );
    const writes = server.store.writes.length;
    const body = await expectOAuthError(
      await postForm(`${server.base}/token`, {
        grant_type: "authorization_code",
        code: "x",
        code_verifier: "v".repeat(43),
        redirect_uri: REDIRECT_URI,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion,
      }),
      401,
      "invalid_client",
    );
    expect(body.error_description).toBe("The client's keys could not be loaded");
    expect(internal.requests).toEqual([]);
    expect(dns.asked).toEqual(["keys.attacker.test"]);
    expect(server.store.writes.slice(writes).filter((key) => !key.startsWith("as:rl:"))).toEqual(
      [],
    );
  });

  it("on a public name is fetched and used (the rules do not stop a real client)", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const fake: typeof fetch = async () =>
      new Response(JSON.stringify({ keys: [jwk] }), {
        headers: { "content-type": "application/json" },
      });
    const server = await serverWith({ fetch: fake, resolveHost: async () => [PUBLIC] });
    const response = await register(server.base, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "private_key_jwt",
      jwks_uri: "https://keys.example.com/jwks.json",
    });
    const { client_id: clientId } = (await response.json()) as { client_id: string };
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({
      iss: clientId,
      sub: clientId,
      aud: `${server.base}/token`,
      iat: now,
      exp: now + 60,
      jti: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .sign(privateKey);
    // Authenticated: the refusal is about the code, not the client.
    await expectOAuthError(
      await postForm(`${server.base}/token`, {
        grant_type: "authorization_code",
        code: "x",
        code_verifier: "v".repeat(43),
        redirect_uri: REDIRECT_URI,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion,
      }),
      400,
      "invalid_grant",
    );
  });
});

describe("an upstream provider's endpoints", () => {
  /** A provider on loopback whose discovery document names `tokenEndpoint`. */
  async function provider(tokenEndpoint: (base: string) => string) {
    let base = "";
    const app = new Hono();
    app.get("/.well-known/openid-configuration", (c) =>
      c.json({
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: tokenEndpoint(base),
        jwks_uri: `${base}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["ES256"],
      }),
    );
    base = (await listen(app)).replace("127.0.0.1", "localhost");
    return base;
  }

  it("a token endpoint whose name resolves to loopback gets neither the code nor the secret", async () => {
    const internal = await internalServer();
    const issuer = await provider(() => `https://token.attacker.test:${internal.port}/token`);
    // The provider is on loopback (allowed: allowInsecureRequests); the token endpoint's name
    // resolves there too, and it is not a loopback name.
    const dns = resolver(() => ["127.0.0.1"]);
    const server = await startServer({
      login: upstreamOAuth({
        issuer,
        clientId: "portcullis",
        clientSecret: "a-secret-the-internal-server-must-never-see",
        allowInsecureRequests: true,
        resolveHost: dns.resolveHost,
      }),
    });
    const clientId = await (async () => {
      const response = await register(server.base, {
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
      });
      return ((await response.json()) as { client_id: string }).client_id;
    })();
    const { challenge } = await pkce();
    const browser = new Browser();
    const start = await browser.fetch(authorizeUrl(server, { clientId, challenge }));
    expect(start.status).toBe(303);
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const callback = await browser.fetch(
      `${server.base}/login/upstream/callback?code=upstream-code&state=${state}`,
    );
    expect(callback.status).toBe(400);
    expect(await callback.text()).toBe("The identity provider did not confirm the sign-in.");
    expect(internal.requests).toEqual([]);
    expect(dns.asked).toContain("token.attacker.test");
    expect(server.store.written("as:code:")).toBe(0);
  });

  it("a provider whose own name resolves to the metadata address is never asked, even on a private network", async () => {
    const dns = resolver(() => ["169.254.169.254"]);
    const server = await startServer({
      login: upstreamOAuth({
        issuer: "https://idp.corp.test",
        clientId: "portcullis",
        allowPrivateNetwork: true,
        resolveHost: dns.resolveHost,
      }),
    });
    const response = await register(server.base, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
    });
    const { client_id: clientId } = (await response.json()) as { client_id: string };
    const { challenge } = await pkce();
    const start = await fetch(authorizeUrl(server, { clientId, challenge }), {
      redirect: "manual",
    });
    const text = await start.text();
    expect(start.status).toBe(500);
    const body = JSON.parse(text);
    expect(body).toEqual({
      error: "server_error",
      error_description: `The server could not complete the request (error id ${body.error_id})`,
      error_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(dns.asked).toEqual(["idp.corp.test"]);
  });
});
