/**
 * The official SDK clients through the gateway, each signing in with its OWN OAuth support
 * (401 → resource metadata → AS metadata → dynamic registration → PKCE → redirect → token):
 * the v1 SDK (`@modelcontextprotocol/sdk`, 2025-11-25) and the v2 client
 * (`@modelcontextprotocol/client`, 2026-07-28). The user's part (dev login and consent) is
 * played headless. Then they list and call the tools of the reference "everything" server
 * over stdio and of a recording upstream over HTTP, which shows the token stays at the gateway.
 * Also: a token for another audience is refused, and a per-tool scope steps up.
 */
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedV2,
} from "@modelcontextprotocol/client";
import { UnauthorizedError as UnauthorizedV1 } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPError,
  StreamableHTTPClientTransport as TransportV1,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { recordingFetch, type Seen, tokenRequests } from "../client/oauth/support.ts";
import { post } from "../helpers/http.ts";
import {
  connectV1,
  connectV2,
  devLoginAgent,
  expectGatewayToken,
  SignInProvider,
} from "../helpers/sdk-oauth.ts";
import { accessToken, EVERYTHING, headerRecorder, spawning, startGateway } from "./support.ts";

/** A resource the gateway's authorization server also issues tokens for: not the gateway. */
const ELSEWHERE = "https://elsewhere.example/mcp";

let base: string;
let url: string;
let recorder: Awaited<ReturnType<typeof headerRecorder>>;

beforeAll(async () => {
  recorder = await headerRecorder();
  ({ base, url } = await startGateway(
    {
      upstreams: [
        {
          name: "everything",
          transport: spawning([EVERYTHING, "stdio"]).transport,
          // The upstream's environment is worth a scope of its own.
          scopes: { "get-env": ["env:read"] },
        },
        { name: "rec", url: recorder.url },
      ],
    },
    { resources: [ELSEWHERE] },
  ));
}, 60_000);

/** The text blocks of a tool result (v1 types it as a union with a legacy shape). */
const texts = (result: object) =>
  (("content" in result ? result.content : []) as { text?: string }[])
    .map((block) => block.text ?? "")
    .join("\n");

const path = (s: Seen) => s.url.pathname;
/** The OAuth discovery and registration the SDK did before its first token. */
const discovery = (seen: Seen[]) =>
  seen.slice(0, 4).map((s) => `${s.method} ${path(s)} ${s.status}`);

/** What both SDKs must have done to sign in, by their own OAuth code. */
function expectOwnOAuth(seen: Seen[], provider: SignInProvider) {
  expect(discovery(seen)).toEqual([
    "POST /mcp 401",
    "GET /.well-known/oauth-protected-resource/mcp 200",
    "GET /.well-known/oauth-authorization-server 200",
    "POST /register 201",
  ]);
  expect(provider.authorizations).toHaveLength(1);
  const authorization = provider.authorizations[0]!;
  expect(authorization.origin + authorization.pathname).toBe(`${base}/authorize`);
  // The scope the gateway's 401 challenge names: what its tools need (get-env's env:read).
  expect(authorization.searchParams.get("scope")).toBe("env:read");
  expect(authorization.searchParams.get("code_challenge_method")).toBe("S256");
  expect(authorization.searchParams.get("code_challenge")).toBeTruthy();
  expect(authorization.searchParams.get("resource")).toBe(url);
  expect(authorization.searchParams.get("redirect_uri")).toBe(provider.redirectUrl);
  expect(tokenRequests(seen)).toEqual(["authorization_code"]);
  const token = seen.find((s) => path(s) === "/token")!;
  expect(token.status).toBe(200);
  expect(token.form?.get("resource")).toBe(url);
  expect(token.form?.get("code_verifier")).toBeTruthy();
  expectGatewayToken(provider.accessToken, url);
  expect(provider.tokens()?.scope).toBe("env:read");
}

describe("the official v1 SDK client through the gateway, with its own OAuth", () => {
  it("signs in, lists and calls tools; the upstream never sees its token", async () => {
    const seen: Seen[] = [];
    const provider = new SignInProvider(devLoginAgent(base));
    const { client, transport } = await connectV1(url, provider, recordingFetch(seen));
    try {
      expectOwnOAuth(seen, provider);
      expect(client.getServerVersion()).toMatchObject({ name: "portcullis-gateway" });
      const { tools } = await client.listTools();
      const names = tools.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(["everything_echo", "rec_whoami"]));
      const echoed = await client.callTool({
        name: "everything_echo",
        arguments: { message: "from SDK v1" },
      });
      expect(texts(echoed)).toContain("from SDK v1");
      const sum = await client.callTool({
        name: "everything_get-sum",
        arguments: { a: 20, b: 22 },
      });
      expect(texts(sum)).toContain("42");

      const before = recorder.authorizations.length;
      const whoami = await client.callTool({ name: "rec_whoami", arguments: {} });
      expect(whoami.isError).toBeFalsy();
      expect(recorder.authorizations.slice(before)).toEqual([null]);
      // Every MCP request after sign-in carried the gateway's token.
      const mcp = seen.filter((s) => path(s) === "/mcp" && s.status !== 401);
      expect(mcp.length).toBeGreaterThan(3);
      for (const s of mcp) expect(s.authorization).toBe(`Bearer ${provider.accessToken}`);
    } finally {
      await transport.close();
    }
  });
});

describe("the official v2 client (2026-07-28) through the gateway, with its own OAuth", () => {
  it("signs in, lists and calls tools; the upstream never sees its token", async () => {
    const seen: Seen[] = [];
    const provider = new SignInProvider(devLoginAgent(base, { user: "grace" }));
    const { client, transport } = await connectV2(url, provider, recordingFetch(seen));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
      expectOwnOAuth(seen, provider);
      // finishAuth took the callback whole: the issuer there is the one the SDK discovered.
      expect(provider.callback?.get("iss")).toBe(base);
      expect(provider.saved.at(-1)).toMatchObject({ issuer: base });
      expect(decodeJwt(provider.accessToken).sub).toBe("grace");

      const { tools } = await client.listTools();
      const names = tools.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(["everything_echo", "rec_whoami"]));
      const echoed = await client.callTool({
        name: "everything_echo",
        arguments: { message: "from SDK v2" },
      });
      expect(texts(echoed)).toContain("from SDK v2");

      const before = recorder.authorizations.length;
      await client.callTool({ name: "rec_whoami", arguments: {} });
      expect(recorder.authorizations.slice(before)).toEqual([null]);
      // Every request after sign-in (2026-07-28 has no session) carried the gateway's token.
      const calls = seen.filter((s) => path(s) === "/mcp" && s.status === 200);
      expect(calls.length).toBeGreaterThan(2);
      for (const s of calls) expect(s.authorization).toBe(`Bearer ${provider.accessToken}`);
    } finally {
      await transport.close();
    }
  });
});

describe("a token for another audience", () => {
  it("is refused with 401 invalid_token, to raw HTTP and to both SDKs", async () => {
    const other = await accessToken(base, "", "alice", ELSEWHERE);
    // Same issuer, same user: only the audience is wrong.
    expectGatewayToken(other, url, ELSEWHERE);
    const before = recorder.authorizations.length;

    const raw = await post(
      url,
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      {
        authorization: `Bearer ${other}`,
        "mcp-protocol-version": "2025-11-25",
      },
    );
    expect(raw.status).toBe(401);
    expect(raw.headers.get("www-authenticate")).toContain('error="invalid_token"');
    await raw.body?.cancel();

    const v1 = new TransportV1(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${other}` } },
    });
    const refusedV1 = await new ClientV1({ name: "sdk-v1", version: "1.0.0" })
      .connect(v1)
      .catch((error: unknown) => error);
    expect(refusedV1).toBeInstanceOf(StreamableHTTPError);
    expect((refusedV1 as StreamableHTTPError).code).toBe(401);

    const v2 = new TransportV2(new URL(url), { authProvider: { token: async () => other } });
    const refusedV2 = await new ClientV2(
      { name: "sdk-v2", version: "2.0.0" },
      { versionNegotiation: { mode: "auto" } },
    )
      .connect(v2)
      .catch((error: unknown) => error);
    expect(refusedV2).toBeInstanceOf(UnauthorizedV2);

    expect(recorder.authorizations.length).toBe(before);
  });
});

describe("a per-tool scope through the gateway", () => {
  it("v1 SDK: 403 insufficient_scope; refresh cannot widen, re-authorization with the challenge's scope does", async () => {
    const seen: Seen[] = [];
    // The user grants nothing beyond signing in (our consent page grants all or nothing, so
    // the request is narrowed on its way to the authorization server).
    let grantOnly: string | undefined = "";
    const provider = new SignInProvider(devLoginAgent(base, { grantOnly: () => grantOnly }));
    const { client, transport } = await connectV1(url, provider, recordingFetch(seen));
    grantOnly = undefined;
    try {
      expect(provider.tokens()?.scope ?? "").not.toContain("env:read");
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).not.toContain("everything_get-env");

      // SDK 1.x answers the 403 by running auth() with the challenge's scope, but auth()
      // prefers the refresh token it holds. A refresh cannot widen a grant, so the retry gets
      // the same 403 and the SDK gives up without sending the user to authorize again.
      const refused = await client.callTool({ name: "everything_get-env", arguments: {} }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(StreamableHTTPError);
      expect((refused as StreamableHTTPError).code).toBe(403);
      expect((refused as Error).message).toContain("after trying upscoping");
      const forbidden = seen.filter((s) => path(s) === "/mcp" && s.status === 403);
      expect(forbidden).toHaveLength(2);
      expect(tokenRequests(seen)).toEqual(["authorization_code", "refresh_token"]);
      expect(provider.authorizations).toHaveLength(1);

      // Without a refresh token, the same 403 sends the user to authorize with the scope the
      // challenge names. A successful request first clears the SDK's "tried this" guard.
      provider.dropRefreshToken();
      await client.listTools();
      await expect(client.callTool({ name: "everything_get-env", arguments: {} })).rejects.toThrow(
        UnauthorizedV1,
      );
      expect(provider.authorizations).toHaveLength(2);
      const stepUp = provider.authorizations[1]!;
      expect(stepUp.searchParams.get("scope")?.split(" ")).toContain("env:read");
      expect(stepUp.searchParams.get("resource")).toBe(url);

      await transport.finishAuth(provider.code);
      expect(provider.tokens()?.scope?.split(" ")).toContain("env:read");
      expectGatewayToken(provider.accessToken, url);
      const env = await client.callTool({ name: "everything_get-env", arguments: {} });
      expect(env.isError).toBeFalsy();
      expect(texts(env)).toContain("PATH");
      expect((await client.listTools()).tools.map((tool) => tool.name)).toContain(
        "everything_get-env",
      );
    } finally {
      await transport.close();
    }
  });

  it("v2 client: 403 insufficient_scope sends the user to authorize the wider scope at once", async () => {
    const seen: Seen[] = [];
    let grantOnly: string | undefined = "";
    const provider = new SignInProvider(
      devLoginAgent(base, { user: "grace", grantOnly: () => grantOnly }),
    );
    const { client, transport } = await connectV2(url, provider, recordingFetch(seen));
    grantOnly = undefined;
    try {
      expect(provider.tokens()?.scope ?? "").not.toContain("env:read");
      // The v2 client skips the refresh when the challenge asks for more than the token
      // holds (SEP-2350), and re-authorizes with the union.
      const first = await client.callTool({ name: "everything_get-env", arguments: {} }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(first).toBeInstanceOf(UnauthorizedV2);
      expect(tokenRequests(seen)).toEqual(["authorization_code"]);
      expect(provider.authorizations).toHaveLength(2);
      expect(provider.authorizations[1]!.searchParams.get("scope")?.split(" ")).toContain(
        "env:read",
      );
      await transport.finishAuth(provider.callback!);
      expect(provider.tokens()?.scope?.split(" ")).toContain("env:read");
      const env = await client.callTool({ name: "everything_get-env", arguments: {} });
      expect(texts(env)).toContain("PATH");
    } finally {
      await transport.close();
    }
  });
});
