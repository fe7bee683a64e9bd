/**
 * Discovery and registration paths of the OAuth authorizer, against raw Hono servers: the
 * metadata probe orders, 2025-03-26 servers without resource metadata, client id metadata
 * documents, pre-registered clients, offline_access, and a server moving to another
 * authorization server.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuthorizationError,
  headlessRedirect,
  McpClient,
  memoryTokenStore,
  OAuthAuthorizer,
  type OAuthAuthorizerOptions,
} from "../../../src/client/index.ts";
import { listen } from "../../helpers/http.ts";
import { type FakeAuthServerOptions, fakeAuthServer, gatedServer, lateBase } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** A person who approves at once. */
function approving(): { redirect: ReturnType<typeof headlessRedirect>; visits: URL[] } {
  const visits: URL[] = [];
  const redirect = headlessRedirect(async (url) => {
    visits.push(new URL(url));
    return (await fetch(url, { redirect: "manual" })).headers.get("location")!;
  });
  return { redirect, visits };
}

async function connect(mcp: string, options: OAuthAuthorizerOptions): Promise<McpClient> {
  const client = new McpClient({ name: "discovery-test", version: "1.0.0" });
  open.push(client);
  await client.connect(mcp, { authorizer: new OAuthAuthorizer(options) });
  return client;
}

/**
 * An authorization server whose issuer has a path (`/tenant1`), with its metadata served at
 * only one of the well-known locations. Every request is recorded.
 */
async function tenantServer(
  location: string,
  options: FakeAuthServerOptions = {},
): Promise<{ issuer: string; requests: string[] }> {
  const origin = lateBase();
  const issuer = () => `${origin.get()}/tenant1`;
  const fake = fakeAuthServer(issuer, options);
  const requests: string[] = [];
  const app = new Hono();
  app.use(async (c, next) => {
    requests.push(`${c.req.method} ${new URL(c.req.url).pathname}`);
    await next();
  });
  app.get(location, async () => fake.app.request("/.well-known/oauth-authorization-server"));
  app.route("/tenant1", fake.app);
  origin.set(await listen(app));
  return { issuer: issuer(), requests };
}

describe("authorization server metadata probe order", () => {
  it.each([
    ["RFC 8414 path insertion", "/.well-known/oauth-authorization-server/tenant1", 1],
    ["OpenID Connect path insertion", "/.well-known/openid-configuration/tenant1", 2],
    ["OpenID Connect path appending", "/tenant1/.well-known/openid-configuration", 3],
  ])(
    "finds metadata by %s, in the spec's order, never at the root",
    async (_name, location, tries) => {
      const { issuer, requests } = await tenantServer(location);
      const mcp = lateBase();
      mcp.set(await listen(gatedServer(mcp.get, () => issuer)));
      const client = await connect(`${mcp.get()}/mcp`, { redirect: approving().redirect });
      expect((await client.callTool("echo", { text: "hi" })).content).toEqual([
        { type: "text", text: "echo: hi" },
      ]);
      const probes = requests.filter((r) => r.includes(".well-known"));
      expect(probes).toEqual(
        [
          "GET /.well-known/oauth-authorization-server/tenant1",
          "GET /.well-known/openid-configuration/tenant1",
          "GET /tenant1/.well-known/openid-configuration",
        ].slice(0, tries),
      );
      expect(requests).toContain("POST /tenant1/token");
    },
  );

  it("fails with ERR_METADATA_NOT_FOUND when no location has it", async () => {
    const { issuer } = await tenantServer("/nowhere");
    const mcp = lateBase();
    mcp.set(await listen(gatedServer(mcp.get, () => issuer)));
    const client = new McpClient({ name: "discovery-test", version: "1.0.0" });
    const error = await client
      .connect(`${mcp.get()}/mcp`, {
        authorizer: new OAuthAuthorizer({ redirect: approving().redirect }),
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_METADATA_NOT_FOUND" });
  });
});

describe("protected resource metadata locations", () => {
  async function world(routes: (app: Hono, base: () => string, issuer: string) => void) {
    const as = lateBase();
    const fake = fakeAuthServer(as.get);
    as.set(await listen(fake.app));
    const mcp = lateBase();
    const requests: string[] = [];
    const app = new Hono();
    app.use(async (c, next) => {
      requests.push(`${c.req.method} ${new URL(c.req.url).pathname}`);
      await next();
    });
    routes(app, mcp.get, as.get());
    app.route("/", gatedServer(mcp.get, as.get));
    mcp.set(await listen(app));
    return { mcp: `${mcp.get()}/mcp`, base: mcp.get(), requests };
  }

  it("uses the URL the challenge names, and nothing else", async () => {
    const { mcp, requests } = await world((app, base, issuer) => {
      app.use("/mcp", async (c, next) => {
        if (c.req.header("authorization")) return next();
        return c.json({}, 401, {
          "WWW-Authenticate": `Bearer resource_metadata="${base()}/custom/metadata.json"`,
        });
      });
      app.get("/custom/metadata.json", (c) =>
        c.json({ resource: `${base()}/mcp`, authorization_servers: [issuer] }),
      );
    });
    const { redirect, visits } = approving();
    await connect(mcp, { redirect });
    expect(requests.filter((r) => r.startsWith("GET /") && r !== "GET /mcp")).toEqual([
      "GET /custom/metadata.json",
    ]);
    expect(visits[0]!.searchParams.get("resource")).toBe(mcp);
  });

  it("falls back to the path form when the challenge's URL is not there", async () => {
    const { mcp, requests } = await world((app, base) => {
      app.use("/mcp", async (c, next) => {
        if (c.req.header("authorization")) return next();
        return c.json({}, 401, {
          "WWW-Authenticate": `Bearer resource_metadata="${base()}/gone.json"`,
        });
      });
    });
    await connect(mcp, { redirect: approving().redirect });
    expect(requests).toContain("GET /gone.json");
    expect(requests).toContain("GET /.well-known/oauth-protected-resource/mcp");
  });

  it("at the root, accepts the origin as the resource and sends it back exactly", async () => {
    const { mcp, base, requests } = await world((app, baseOf, issuer) => {
      app.get("/.well-known/oauth-protected-resource/mcp", (c) => c.json({}, 404));
      app.get("/.well-known/oauth-protected-resource", (c) =>
        c.json({ resource: baseOf(), authorization_servers: [issuer] }),
      );
    });
    const { redirect, visits } = approving();
    await connect(mcp, { redirect });
    expect(requests.filter((r) => r.includes("oauth-protected-resource"))).toEqual([
      "GET /.well-known/oauth-protected-resource/mcp",
      "GET /.well-known/oauth-protected-resource",
    ]);
    expect(visits[0]!.searchParams.get("resource")).toBe(base);
  });
});

describe("2025-03-26 servers (no resource metadata)", () => {
  /** A 2025-03-26 server: the authorization server on its own origin, no RFC 9728 metadata. */
  async function legacy(metadata: "root" | "none" | "foreign") {
    const base = lateBase();
    const requests: string[] = [];
    const app = new Hono();
    app.use(async (c, next) => {
      requests.push(`${c.req.method} ${new URL(c.req.url).pathname}`);
      await next();
    });
    app.get("/.well-known/oauth-protected-resource/*", (c) => c.json({}, 404));
    app.get("/.well-known/oauth-protected-resource", (c) => c.json({}, 404));
    if (metadata === "none") {
      // The default endpoints at the root.
      const fake = fakeAuthServer(base.get, { metadata: { issuer: "unused" } });
      app.get("/.well-known/oauth-authorization-server", (c) => c.json({}, 404));
      app.route("/", fake.app);
    } else {
      const issuer = () =>
        metadata === "root" ? `${base.get()}/oauth` : "https://elsewhere.example";
      const fake = fakeAuthServer(() => `${base.get()}/oauth`, { sendIss: false });
      app.get("/.well-known/oauth-authorization-server", async (c) => {
        const document = (await (
          await fake.app.request("/.well-known/oauth-authorization-server")
        ).json()) as Record<string, unknown>;
        return c.json({ ...document, issuer: issuer() });
      });
      app.route("/oauth", fake.app);
    }
    app.route(
      "/",
      gatedServer(base.get, base.get, {
        gate: (token) =>
          token
            ? undefined
            : new Response("{}", { status: 401, headers: { "WWW-Authenticate": "Bearer" } }),
      }),
    );
    base.set(await listen(app));
    return { mcp: `${base.get()}/mcp`, base: base.get(), requests };
  }

  it("uses the root metadata of the server's origin, with an issuer path on that origin", async () => {
    const { mcp, base, requests } = await legacy("root");
    const tokens = memoryTokenStore();
    const client = await connect(mcp, { redirect: approving().redirect, tokens });
    await client.listTools();
    expect(requests).toContain("POST /oauth/register");
    expect(requests).toContain("POST /oauth/token");
    expect((await tokens.get(`${base}/oauth`))?.tokens?.[mcp]).toBeTruthy();
  });

  it("falls back to /authorize, /token and /register at the origin without metadata", async () => {
    const { mcp, requests } = await legacy("none");
    const client = await connect(mcp, { redirect: approving().redirect });
    await client.listTools();
    expect(requests).toEqual(
      expect.arrayContaining(["POST /register", "GET /authorize", "POST /token"]),
    );
  });

  it("refuses root metadata that claims another site's issuer", async () => {
    const { mcp, requests } = await legacy("foreign");
    const client = new McpClient({ name: "discovery-test", version: "1.0.0" });
    const error = await client
      .connect(mcp, { authorizer: new OAuthAuthorizer({ redirect: approving().redirect }) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_ISSUER_MISMATCH" });
    expect(requests).not.toContain("POST /oauth/register");
  });

  it("can be turned off", async () => {
    const { mcp } = await legacy("root");
    const client = new McpClient({ name: "discovery-test", version: "1.0.0" });
    const error = await client
      .connect(mcp, {
        authorizer: new OAuthAuthorizer({ redirect: approving().redirect, legacyDiscovery: false }),
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(error).toMatchObject({ code: "ERR_METADATA_NOT_FOUND" });
  });
});

describe("registration and scopes", () => {
  async function pair(as: FakeAuthServerOptions = {}) {
    const asBase = lateBase();
    const fake = fakeAuthServer(asBase.get, as);
    asBase.set(await listen(fake.app));
    const mcp = lateBase();
    mcp.set(
      await listen(
        gatedServer(mcp.get, asBase.get, {
          prm: (base, issuer) => ({
            resource: `${base}/mcp`,
            authorization_servers: [issuer],
            scopes_supported: ["files:read"],
          }),
        }),
      ),
    );
    return { mcp: `${mcp.get()}/mcp`, issuer: asBase.get(), fake };
  }

  it("uses the client id metadata document URL when the server supports it", async () => {
    const { mcp, fake } = await pair({ metadata: { client_id_metadata_document_supported: true } });
    const { redirect, visits } = approving();
    await connect(mcp, { redirect, clientMetadataUrl: "https://client.example/metadata.json" });
    expect(visits[0]!.searchParams.get("client_id")).toBe("https://client.example/metadata.json");
    expect(fake.requests).not.toContain("POST /register");
  });

  it("registers instead when the server does not advertise metadata documents", async () => {
    const { mcp, fake } = await pair();
    const { redirect, visits } = approving();
    await connect(mcp, { redirect, clientMetadataUrl: "https://client.example/metadata.json" });
    expect(fake.requests).toContain("POST /register");
    expect(visits[0]!.searchParams.get("client_id")).toMatch(/^client-/);
  });

  it("uses a pre-registered client only with its own issuer", async () => {
    const { mcp, fake } = await pair();
    const { redirect, visits } = approving();
    await connect(mcp, {
      redirect,
      client: { clientId: "for-another-server", issuer: "https://other.example" },
    });
    expect(fake.requests).toContain("POST /register");
    expect(visits[0]!.searchParams.get("client_id")).not.toBe("for-another-server");
  });

  it("registers with a secret when the server takes no public clients, and authenticates with it", async () => {
    const { mcp, fake, issuer } = await pair({
      metadata: { token_endpoint_auth_methods_supported: ["client_secret_post"] },
    });
    const tokens = memoryTokenStore();
    await connect(mcp, { redirect: approving().redirect, tokens });
    const registered = (await tokens.get(issuer))?.client;
    expect(registered).toMatchObject({ authMethod: "client_secret_post", source: "registration" });
    const form = fake.tokenForms[0]!;
    expect(form.get("client_id")).toBe(registered?.clientId);
    expect(form.get("client_secret")).toBe(`secret-of-${registered?.clientId}`);
    expect(fake.authorizations.every((value) => value === undefined)).toBe(true);
  });

  it.each([
    [
      "lists offline_access",
      ["files:read", "offline_access"],
      undefined,
      "files:read offline_access",
    ],
    [
      "lists it, but the client does not want it",
      ["files:read", "offline_access"],
      false,
      "files:read",
    ],
    ["does not list it", ["files:read"], undefined, "files:read"],
  ])(
    "asks for offline_access only when the authorization server %s",
    async (_name, scopes, offline, expected) => {
      const { mcp } = await pair({ metadata: { scopes_supported: scopes } });
      const { redirect, visits } = approving();
      await connect(mcp, { redirect, ...(offline === false && { offlineAccess: false }) });
      expect(visits[0]!.searchParams.get("scope")).toBe(expected);
    },
  );
});

describe("a server that moves to another authorization server", () => {
  it("re-discovers on the next 401, registers with the new one, and never shows it the old client", async () => {
    const first = lateBase();
    const second = lateBase();
    const as1 = fakeAuthServer(first.get);
    const as2 = fakeAuthServer(second.get);
    first.set(await listen(as1.app));
    second.set(await listen(as2.app));
    let current = first.get;
    const mcp = lateBase();
    mcp.set(
      await listen(
        gatedServer(mcp.get, () => current(), {
          // After the move, tokens from the first server are refused.
          gate: (token) =>
            token && current === second.get && !as2.issued.some((i) => i.token === token)
              ? new Response("{}", { status: 401, headers: { "WWW-Authenticate": "Bearer" } })
              : undefined,
        }),
      ),
    );
    const tokens = memoryTokenStore();
    const { redirect, visits } = approving();
    const client = await connect(`${mcp.get()}/mcp`, { redirect, tokens });
    await client.listTools();
    const firstClient = (await tokens.get(first.get()))?.client?.clientId;
    expect(firstClient).toBeTruthy();

    current = second.get;
    await client.listTools();
    expect(as2.requests).toContain("POST /register");
    expect(visits).toHaveLength(2);
    expect(visits[1]!.origin).toBe(second.get());
    expect(visits[1]!.searchParams.get("client_id")).not.toBe(firstClient);
    expect(as2.tokenForms.every((form) => form.get("client_id") !== firstClient)).toBe(true);
    expect((await tokens.get(second.get()))?.tokens?.[`${mcp.get()}/mcp`]).toBeTruthy();
    // The first server's tokens stay with it.
    expect((await tokens.get(first.get()))?.tokens?.[`${mcp.get()}/mcp`]?.accessToken).toBe(
      "tok-1",
    );
  });
});
