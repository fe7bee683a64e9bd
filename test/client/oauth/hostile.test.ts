/**
 * Servers that misbehave, on raw Hono: the authorizer fails with a clear typed error, makes
 * no request it should not make, and sends no token where it does not belong.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuthorizationError,
  headlessRedirect,
  McpClient,
  OAuthAuthorizer,
  type OAuthAuthorizerOptions,
} from "../../../src/client/index.ts";
import { listen } from "../../helpers/http.ts";
import {
  type FakeAuthServerOptions,
  fakeAuthServer,
  gatedServer,
  lateBase,
  recordingFetch,
  type Seen,
} from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

interface Setup {
  as: string;
  mcp: string;
  /** Requests the fake authorization server received ("GET /path"). */
  asRequests: string[];
  /** The Authorization header of each of them. */
  asAuthorizations: (string | undefined)[];
  /** The bearer token (or undefined) of every request the MCP server received. */
  seenTokens: (string | undefined)[];
}

/** The fake authorization server and a gated MCP server, on two loopback origins. */
async function setup(
  options: {
    as?: FakeAuthServerOptions;
    prm?: (base: string, issuer: string) => unknown;
    gate?: (token: string | undefined, method: string | undefined) => Response | undefined;
    /** Routes on the MCP server's origin, ahead of the gated server's own. */
    extra?: (app: Hono, base: () => string) => void;
  } = {},
): Promise<Setup> {
  const asBase = lateBase();
  const mcpBase = lateBase();
  const fake = fakeAuthServer(asBase.get, options.as);
  asBase.set(await listen(fake.app));
  const seenTokens: (string | undefined)[] = [];
  const app = new Hono();
  options.extra?.(app, mcpBase.get);
  app.route(
    "/",
    gatedServer(mcpBase.get, asBase.get, {
      ...(options.prm && { prm: options.prm }),
      ...(options.gate && { gate: options.gate }),
      seenTokens,
    }),
  );
  mcpBase.set(await listen(app));
  return {
    as: asBase.get(),
    mcp: `${mcpBase.get()}/mcp`,
    asRequests: fake.requests,
    asAuthorizations: fake.authorizations,
    seenTokens,
  };
}

/** A person who approves at once: follows the authorization server's redirect back. */
function approving(change?: (back: URL) => void): {
  redirect: ReturnType<typeof headlessRedirect>;
  visits: URL[];
} {
  const visits: URL[] = [];
  const redirect = headlessRedirect(async (url) => {
    visits.push(new URL(url));
    const response = await fetch(url, { redirect: "manual" });
    const back = new URL(response.headers.get("location")!);
    change?.(back);
    return back;
  });
  return { redirect, visits };
}

/** Connects, expecting an AuthorizationError; returns it. */
async function failure(mcp: string, options: OAuthAuthorizerOptions): Promise<AuthorizationError> {
  const client = new McpClient({ name: "hostile-test", version: "1.0.0" });
  open.push(client);
  const error = await client.connect(mcp, { authorizer: new OAuthAuthorizer(options) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthorizationError);
  return error as AuthorizationError;
}

const hosts = (seen: Seen[]) => seen.map((s) => s.url.hostname);

describe("malformed metadata", () => {
  it.each([
    ["not JSON", () => new Response("<html>hello</html>", { status: 200 })],
    ["without authorization_servers", (base: string) => ({ resource: `${base}/mcp` })],
    [
      "with scopes_supported not a list",
      (base: string) => ({
        resource: `${base}/mcp`,
        authorization_servers: ["https://as.example"],
        scopes_supported: "read write",
      }),
    ],
    ["an array", () => []],
  ])("protected resource metadata %s", async (_name, prm) => {
    const { mcp, asRequests } = await setup({
      extra: (app, base) => {
        app.get("/.well-known/oauth-protected-resource/mcp", (c) => {
          const value = prm(base());
          return value instanceof Response ? value : c.json(value as object);
        });
      },
    });
    const error = await failure(mcp, { redirect: approving().redirect });
    expect(error.code).toBe("ERR_BAD_METADATA");
    expect(asRequests).toEqual([]);
  });

  it.each([
    ["token_endpoint not a URL", { token_endpoint: "not a url" }],
    ["no token_endpoint", { token_endpoint: undefined }],
    ["an issuer that is not a string", { issuer: 42 }],
  ])("authorization server metadata with %s", async (_name, metadata) => {
    const { mcp, asRequests } = await setup({ as: { metadata } });
    const { redirect, visits } = approving();
    const error = await failure(mcp, { redirect });
    expect(error.code).toBe("ERR_BAD_METADATA");
    expect(asRequests).toEqual(["GET /.well-known/oauth-authorization-server"]);
    expect(visits).toEqual([]);
  });
});

describe("identity checks", () => {
  it.each([
    ["another site", () => "https://attacker.example.com"],
    ["a trailing-slash variant of its own", (base: string) => `${base}/`],
  ])("refuses metadata whose issuer is %s, and uses none of it", async (_name, issuer) => {
    const { mcp, asRequests } = await setup({
      as: { metadata: (base) => ({ issuer: issuer(base) }) },
    });
    const { redirect, visits } = approving();
    const error = await failure(mcp, { redirect });
    expect(error.code).toBe("ERR_ISSUER_MISMATCH");
    expect(asRequests).toEqual(["GET /.well-known/oauth-authorization-server"]);
    expect(visits).toEqual([]);
  });

  it.each([
    ["another origin", () => "https://evil.example.com/mcp"],
    ["another path on the same origin", (base: string) => `${base}/other`],
  ])(
    "refuses resource metadata for %s before contacting any authorization server",
    async (_name, resource) => {
      const { mcp, asRequests } = await setup({
        prm: (base, issuer) => ({ resource: resource(base), authorization_servers: [issuer] }),
      });
      const { redirect, visits } = approving();
      const error = await failure(mcp, { redirect });
      expect(error.code).toBe("ERR_RESOURCE_MISMATCH");
      expect(asRequests).toEqual([]);
      expect(visits).toEqual([]);
    },
  );

  it.each([
    [
      "from another issuer (mix-up)",
      "ERR_ISS_MISMATCH",
      (back: URL) => back.searchParams.set("iss", "https://other.example"),
    ],
    [
      "without the iss the server promised",
      "ERR_ISS_MISMATCH",
      (back: URL) => back.searchParams.delete("iss"),
    ],
    [
      "with another state",
      "ERR_STATE_MISMATCH",
      (back: URL) => back.searchParams.set("state", "forged"),
    ],
    [
      "with an error",
      "ERR_AUTHORIZATION_DENIED",
      (back: URL) => {
        back.searchParams.delete("code");
        back.searchParams.set("error", "access_denied");
      },
    ],
  ])("rejects an authorization response %s, and redeems no code", async (_name, code, change) => {
    const { mcp, asRequests } = await setup();
    const error = await failure(mcp, { redirect: approving(change).redirect });
    expect(error.code).toBe(code);
    expect(asRequests).toContain("GET /authorize");
    expect(asRequests).not.toContain("POST /token");
  });

  it.each([
    ["does not advertise PKCE", { code_challenge_methods_supported: undefined }],
    ["offers only plain PKCE", { code_challenge_methods_supported: ["plain"] }],
  ])("refuses an authorization server that %s", async (_name, metadata) => {
    const { mcp, asRequests } = await setup({ as: { metadata } });
    const { redirect, visits } = approving();
    const error = await failure(mcp, { redirect });
    expect(error.code).toBe("ERR_PKCE_UNSUPPORTED");
    expect(visits).toEqual([]);
    expect(asRequests).toEqual(["GET /.well-known/oauth-authorization-server"]);
  });
});

describe("requests to private addresses are refused before any connection", () => {
  it.each([
    ["the cloud metadata address", "https://169.254.169.254/latest/meta-data/"],
    ["a private network address", "https://10.0.0.1/.well-known/oauth-protected-resource"],
    ["plain http to a public host", "http://example.com/.well-known/oauth-protected-resource"],
  ])("a challenge pointing the metadata at %s", async (_name, url) => {
    const { mcp } = await setup({
      gate: (token) =>
        token
          ? undefined
          : new Response("{}", {
              status: 401,
              headers: { "WWW-Authenticate": `Bearer resource_metadata="${url}"` },
            }),
    });
    const seen: Seen[] = [];
    const error = await failure(mcp, {
      redirect: approving().redirect,
      fetch: recordingFetch(seen),
    });
    expect(error.code).toBe("ERR_URL_REFUSED");
    expect(seen).toEqual([]);
  });

  it("resource metadata that redirects to the metadata address", async () => {
    const { mcp } = await setup({
      extra: (app) => {
        app.get("/.well-known/oauth-protected-resource/mcp", (c) =>
          c.redirect("https://169.254.169.254/latest/meta-data/iam", 302),
        );
      },
    });
    const seen: Seen[] = [];
    const error = await failure(mcp, {
      redirect: approving().redirect,
      fetch: recordingFetch(seen),
    });
    expect(error.code).toBe("ERR_URL_REFUSED");
    expect(hosts(seen)).toEqual(["127.0.0.1"]);
  });

  it("an authorization server whose name resolves to a private address", async () => {
    const { mcp } = await setup({
      prm: (base) => ({
        resource: `${base}/mcp`,
        authorization_servers: ["https://login.example-looks-public.test"],
      }),
    });
    const seen: Seen[] = [];
    const asked: string[] = [];
    const error = await failure(mcp, {
      redirect: approving().redirect,
      fetch: recordingFetch(seen),
      resolveHost: async (host) => {
        asked.push(host);
        return ["10.1.2.3"];
      },
    });
    expect(error.code).toBe("ERR_URL_REFUSED");
    expect(asked).toContain("login.example-looks-public.test");
    expect(hosts(seen)).not.toContain("login.example-looks-public.test");
  });

  it("connects where its own check said, not where the system resolver would (pinned)", async () => {
    // The authorization server's name is vetted as a public address; a fetch that resolved
    // the name again itself would reach the fake server on 127.0.0.1 instead.
    const { mcp, asRequests } = await setup({
      prm: (base, issuer) => ({
        resource: `${base}/mcp`,
        authorization_servers: [issuer.replace("127.0.0.1", "localhost")],
      }),
    });
    const asked: string[] = [];
    const error = await failure(mcp, {
      redirect: approving().redirect,
      timeoutMs: 2000,
      resolveHost: async (host) => {
        asked.push(host);
        return ["93.184.216.34"];
      },
    });
    expect(["ERR_FETCH_FAILED", "ERR_FETCH_TIMEOUT"]).toContain(error.code);
    expect(asked.length).toBeGreaterThan(0);
    expect(new Set(asked)).toEqual(new Set(["localhost"]));
    expect(asRequests).toEqual([]);
  });

  it("a token endpoint on a private address: the code is never sent there", async () => {
    const { mcp, asRequests } = await setup({
      as: { metadata: { token_endpoint: "https://10.0.0.1/token" } },
    });
    const seen: Seen[] = [];
    const error = await failure(mcp, {
      redirect: approving().redirect,
      fetch: recordingFetch(seen),
    });
    expect(error.code).toBe("ERR_URL_REFUSED");
    expect(hosts(seen)).not.toContain("10.0.0.1");
    expect(asRequests).toContain("POST /register");
  });

  it.each([
    ["javascript:", "javascript:alert(document.cookie)"],
    ["file:", "file:///etc/passwd"],
    ["an intranet address", "https://192.168.1.1/authorize"],
  ])("an authorization endpoint with %s is never opened", async (_name, endpoint) => {
    const { mcp } = await setup({ as: { metadata: { authorization_endpoint: endpoint } } });
    const { redirect, visits } = approving();
    const error = await failure(mcp, { redirect });
    expect(error.code).toBe("ERR_URL_REFUSED");
    expect(visits).toEqual([]);
  });
});

describe("size and time limits", () => {
  const big = JSON.stringify({ padding: "x".repeat(400 * 1024) });

  it.each([
    [
      "announced in Content-Length",
      () => new Response(big, { headers: { "content-type": "application/json" } }),
    ],
    [
      "streamed without a length",
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
              for (let i = 0; i < 8; i++) controller.enqueue(chunk);
              controller.close();
            },
          }),
          { headers: { "content-type": "application/json" } },
        ),
    ],
  ])("oversized metadata %s is cut off", async (_name, reply) => {
    const { mcp, asRequests } = await setup({
      extra: (app) => app.get("/.well-known/oauth-protected-resource/mcp", () => reply()),
    });
    const error = await failure(mcp, { redirect: approving().redirect });
    expect(error.code).toBe("ERR_RESPONSE_TOO_LARGE");
    expect(asRequests).toEqual([]);
  });

  it("metadata that never answers times out", async () => {
    const { mcp } = await setup({
      extra: (app) =>
        app.get(
          "/.well-known/oauth-protected-resource/mcp",
          (c) =>
            new Promise<Response>((resolve) => {
              // Answers only once the client has given up (so the server can close).
              c.req.raw.signal.addEventListener("abort", () => resolve(new Response(null)));
            }),
        ),
    });
    const error = await failure(mcp, { redirect: approving().redirect, timeoutMs: 300 });
    expect(error.code).toBe("ERR_FETCH_TIMEOUT");
  });

  it("metadata that trickles forever times out", async () => {
    const { mcp } = await setup({
      extra: (app) =>
        app.get("/.well-known/oauth-protected-resource/mcp", () => {
          let timer: ReturnType<typeof setInterval> | undefined;
          const body = new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('{"resource":"'));
              timer = setInterval(() => controller.enqueue(new TextEncoder().encode(" ")), 20);
            },
            cancel() {
              clearInterval(timer);
            },
          });
          return new Response(body, { headers: { "content-type": "application/json" } });
        }),
    });
    const error = await failure(mcp, { redirect: approving().redirect, timeoutMs: 300 });
    expect(error.code).toBe("ERR_FETCH_TIMEOUT");
  });
});

describe("tokens go to their server and nowhere else", () => {
  it("the authorization server never sees the access token", async () => {
    const { mcp, asAuthorizations, seenTokens } = await setup();
    const client = new McpClient({ name: "hostile-test", version: "1.0.0" });
    open.push(client);
    await client.connect(mcp, {
      authorizer: new OAuthAuthorizer({ redirect: approving().redirect }),
    });
    await client.listTools();
    expect(seenTokens).toContain("tok-1");
    expect(asAuthorizations.some((value) => value?.includes("tok-1"))).toBe(false);
  });

  it("a server that redirects to another origin does not pass the token on", async () => {
    const elsewhere: (string | undefined)[] = [];
    const thief = new Hono();
    thief.all("*", (c) => {
      elsewhere.push(c.req.header("authorization"));
      return c.json({ jsonrpc: "2.0", id: 0, error: { code: -32600, message: "gotcha" } });
    });
    const thiefBase = await listen(thief);
    let redirecting = false;
    const { mcp, seenTokens } = await setup({
      gate: (token, method) =>
        token && redirecting && method === "tools/list"
          ? new Response(null, { status: 307, headers: { location: `${thiefBase}/mcp` } })
          : undefined,
    });
    const client = new McpClient({ name: "hostile-test", version: "1.0.0" });
    open.push(client);
    await client.connect(mcp, {
      authorizer: new OAuthAuthorizer({ redirect: approving().redirect }),
    });
    redirecting = true;
    await client.listTools().catch(() => undefined);
    expect(seenTokens).toContain("tok-1");
    expect(elsewhere.length).toBeGreaterThan(0);
    expect(elsewhere.every((value) => value === undefined)).toBe(true);
  });

  it("gives up with ERR_TOKEN_REJECTED when the server refuses every fresh token", async () => {
    const { mcp } = await setup({
      gate: () =>
        new Response(JSON.stringify({ error: "invalid_token" }), {
          status: 401,
          headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
        }),
    });
    const { redirect, visits } = approving();
    const error = await failure(mcp, { redirect });
    expect(error.code).toBe("ERR_TOKEN_REJECTED");
    expect(visits).toHaveLength(1);
  });
});
