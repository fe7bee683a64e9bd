/**
 * Whether a user stands behind a third-party token (issue 10, point 1): `jwksVerifier` and
 * `introspectionVerifier` decide it with a documented default rule, or with the operator's
 * own (`callerKind`). Our authorization server plays the third-party issuer here, on its own
 * port, so both verifiers run against a real one over HTTP.
 */
import { describe, expect, it } from "vitest";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import {
  type CallerKindRule,
  defaultCallerKind,
  introspectionVerifier,
  jwksVerifier,
  McpServer,
  mcpApp,
  type TokenVerifier,
} from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { listen, messagesOf } from "../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";
import { modernPost } from "../http/modern-support.ts";

describe("the default rule", () => {
  it.each<[string, Record<string, unknown>, "user" | "client"]>([
    ["a user's token", { sub: "alice", client_id: "app", azp: "app" }, "user"],
    ["a user's token naming no client", { sub: "alice" }, "user"],
    ["gty client_credentials", { sub: "alice", gty: "client_credentials" }, "client"],
    ["Auth0's gty", { sub: "job@clients", gty: "client-credentials" }, "client"],
    ["Entra ID's app token", { sub: "0b1c", idtyp: "app" }, "client"],
    ["no subject", { client_id: "job" }, "client"],
    ["an empty subject", { sub: "", client_id: "job" }, "client"],
    ["a subject that is the client (RFC 9068 §2.2)", { sub: "job", client_id: "job" }, "client"],
    ["a subject that is azp", { sub: "job", azp: "job" }, "client"],
    ["a subject that is Okta's cid", { sub: "job", cid: "job" }, "client"],
  ])("%s", (_name, claims, kind) => {
    expect(defaultCallerKind(claims)).toBe(kind);
  });
});

const RS_SECRET = "a-resource-server-secret-of-some-length-01";
const MACHINE_SECRET = "a-machine-secret-of-sufficient-length-0123";

/** The issuer on its own port, with a configured machine client and resource server. */
async function thirdParty() {
  const as = authorizationServer({
    store: memoryStore(),
    login: devLogin(),
    clients: [
      {
        client_id: "job",
        client_secret: MACHINE_SECRET,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        scope: "reports",
      },
      {
        client_id: "rs",
        client_secret: RS_SECRET,
        grant_types: [],
        redirect_uris: [],
        introspection: true,
      },
    ],
  });
  return listen(as.app);
}

/** A resource server trusting `issuer` through `verify`: a user-only tool and an open one. */
async function resourceServer(verify: TokenVerifier, issuer: string) {
  const mcp = new McpServer({ name: "rs", version: "1.0.0" });
  mcp.tool("mine", {}, (_args, ctx) => `user ${ctx.auth?.subject}`);
  mcp.tool("status", { userRequired: false }, (_args, ctx) => `${ctx.auth?.kind}`);
  const base = await listen(mcpApp(mcp, { path: "/mcp", auth: { issuer, verify } }));
  return `${base}/mcp`;
}

async function machineToken(issuer: string, resource: string): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    ...form({ grant_type: "client_credentials", resource }),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`job:${MACHINE_SECRET}`)}`,
    },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function userToken(issuer: string, resource: string): Promise<string> {
  const flow = await authorizeWithDevLogin(issuer, { resource });
  const response = await fetch(
    `${issuer}/token`,
    form({
      grant_type: "authorization_code",
      code: flow.code,
      code_verifier: flow.verifier,
      client_id: flow.clientId,
      redirect_uri: flow.redirectUri,
      resource,
    }),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function call(endpoint: string, token: string, tool: string) {
  const response = await modernPost(
    endpoint,
    1,
    "tools/call",
    { name: tool, arguments: {} },
    { headers: { authorization: `Bearer ${token}` } },
  );
  const body =
    response.status === 200
      ? ((await messagesOf(response)).at(-1) as Record<string, unknown>)
      : ((await response.json()) as Record<string, unknown>);
  return {
    status: response.status,
    challenge: response.headers.get("www-authenticate") ?? "",
    body,
    text: () =>
      ((body.result as { content: { text: string }[] }).content[0] as { text: string }).text,
  };
}

describe.each<[string, (issuer: string, rule?: CallerKindRule) => TokenVerifier]>([
  [
    "jwksVerifier",
    (issuer, rule) =>
      jwksVerifier({ issuer, allowInsecureRequests: true, ...(rule ? { callerKind: rule } : {}) }),
  ],
  [
    "introspectionVerifier",
    (issuer, rule) =>
      introspectionVerifier({
        issuer,
        clientId: "rs",
        clientSecret: RS_SECRET,
        allowInsecureRequests: true,
        cacheSeconds: 0,
        ...(rule ? { callerKind: rule } : {}),
      }),
  ],
])("%s", (_name, verifier) => {
  it("tells a machine token from a user's, and refuses the machine what needs a user", async () => {
    const issuer = await thirdParty();
    const endpoint = await resourceServer(verifier(issuer), issuer);
    const machine = await machineToken(issuer, endpoint);
    const user = await userToken(issuer, endpoint);

    const refused = await call(endpoint, machine, "mine");
    expect(refused.status).toBe(401);
    expect(refused.challenge).toContain('error="insufficient_user_authentication"');
    expect(refused.body).toMatchObject({ error: "insufficient_user_authentication" });
    expect((await call(endpoint, machine, "status")).text()).toBe("client");

    expect((await call(endpoint, user, "mine")).text()).toBe("user alice");
    expect((await call(endpoint, user, "status")).text()).toBe("user");
  });

  it("follows the operator's own rule", async () => {
    const issuer = await thirdParty();
    // An issuer whose tokens say nothing useful: this operator treats every token as a client's.
    const endpoint = await resourceServer(
      verifier(issuer, () => "client"),
      issuer,
    );
    const user = await userToken(issuer, endpoint);
    const refused = await call(endpoint, user, "mine");
    expect(refused.status).toBe(401);
    expect(refused.challenge).toContain('error="insufficient_user_authentication"');
    expect((await call(endpoint, user, "status")).text()).toBe("client");
  });
});
