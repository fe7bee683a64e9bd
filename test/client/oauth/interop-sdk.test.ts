/**
 * The OAuth authorizer against a stack no one here wrote: the official SDK's authorization
 * server (mcpAuthRouter with its demo provider, which approves at once) and an SDK MCP server
 * behind the SDK's bearer middleware and resource metadata, each on its own loopback origin.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DemoInMemoryAuthProvider } from "@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import {
  getOAuthProtectedResourceMetadataUrl,
  mcpAuthMetadataRouter,
  mcpAuthRouter,
} from "@modelcontextprotocol/sdk/server/auth/router.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import express from "express";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  headlessRedirect,
  McpClient,
  memoryTokenStore,
  OAuthAuthorizer,
} from "../../../src/client/index.ts";
import { recordingFetch, type Seen } from "./support.ts";

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

function listenLoopback(app: express.Express): Promise<string> {
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => {
      resolve(`http://localhost:${(server.address() as AddressInfo).port}`);
    });
    servers.push(server);
  });
}

/** The SDK's authorization server and a protected SDK MCP server, on two origins. */
async function sdkStack(): Promise<{ mcp: string; issuer: string }> {
  const provider = new DemoInMemoryAuthProvider();
  const asApp = express();
  let asBase = "";
  // The router needs its issuer up front: listen first, then mount.
  const asReady = listenLoopback(asApp);
  asBase = await asReady;
  asApp.use(
    mcpAuthRouter({ provider, issuerUrl: new URL(asBase), scopesSupported: ["mcp:tools"] }),
  );
  const metadata = await (await fetch(`${asBase}/.well-known/oauth-authorization-server`)).json();

  const app = express();
  app.use(express.json());
  const base = await listenLoopback(app);
  const mcpUrl = new URL(`${base}/mcp`);
  app.use(
    mcpAuthMetadataRouter({
      oauthMetadata: metadata,
      resourceServerUrl: mcpUrl,
      scopesSupported: ["mcp:tools"],
    }),
  );
  app.post(
    "/mcp",
    requireBearerAuth({
      verifier: provider,
      requiredScopes: ["mcp:tools"],
      resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl),
    }),
    async (req, res) => {
      const server = new McpServer({ name: "sdk-protected", version: "1.0.0" });
      server.registerTool(
        "whoami",
        { description: "Who the token belongs to", inputSchema: { greeting: z.string() } },
        async ({ greeting }, extra) => ({
          content: [{ type: "text", text: `${greeting}, ${extra.authInfo?.clientId}` }],
        }),
      );
      const transport = new StreamableHTTPServerTransport({});
      res.on("close", () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    },
  );
  return { mcp: mcpUrl.href, issuer: metadata.issuer as string };
}

describe("against the official SDK's authorization and resource servers", () => {
  it("discovers, registers, authorizes with PKCE and the resource, and calls a tool", async () => {
    const { mcp, issuer } = await sdkStack();
    const seen: Seen[] = [];
    const visits: URL[] = [];
    const tokens = memoryTokenStore();
    const authorizer = new OAuthAuthorizer({
      tokens,
      fetch: recordingFetch(seen),
      redirect: headlessRedirect(async (url) => {
        visits.push(new URL(url));
        const response = await fetch(url, { redirect: "manual" });
        return new URL(response.headers.get("location")!, url);
      }),
    });
    const client = new McpClient({ name: "interop", version: "1.0.0" });
    await client.connect(mcp, { authorizer });
    try {
      const result = await client.callTool("whoami", { greeting: "hello" });
      const clientId = (await tokens.get(issuer))?.client?.clientId;
      expect(clientId).toBeTruthy();
      expect(result.content).toEqual([{ type: "text", text: `hello, ${clientId}` }]);
    } finally {
      await client.close();
    }
    expect(visits).toHaveLength(1);
    expect(visits[0]!.searchParams.get("scope")).toBe("mcp:tools");
    expect(visits[0]!.searchParams.get("resource")).toBe(mcp);
    expect(visits[0]!.searchParams.get("code_challenge_method")).toBe("S256");
    expect(seen.map((s) => `${s.method} ${s.url.pathname} ${s.status}`)).toEqual([
      "GET /.well-known/oauth-protected-resource/mcp 200",
      "GET /.well-known/oauth-authorization-server 200",
      "POST /register 201",
      "POST /token 200",
    ]);
    expect(seen[3]!.form?.get("resource")).toBe(mcp);
  });
});
