/**
 * Announcements for one user: `McpServer.resourceUpdated(uri, { user })` and `listChangedFor`
 * reach the 2025 sessions and 2026-07-28 listen streams of that user (any of their clients)
 * and nobody else's, over real HTTP with tokens from a third-party issuer.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { McpClient } from "../../src/client/index.ts";
import { type AuthInfo, McpServer, mcpApp, userOf } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { AUDIENCE, type JwtIssuer, startJwtIssuer } from "../helpers/jwt.ts";

let idp: JwtIssuer;
beforeAll(async () => {
  idp = await startJwtIssuer();
});

const clients: McpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

const user = (subject: string) =>
  userOf({ subject, claims: { iss: idp.issuer } } as unknown as AuthInfo);

interface Heard {
  tools: number;
  prompts: number;
  updated: string[];
}

async function caller(url: string, sub: string, clientId: string, protocolVersion: string) {
  const heard: Heard = { tools: 0, prompts: 0, updated: [] };
  const client = new McpClient({
    name: `${sub}-${clientId}`,
    version: "1.0.0",
    protocolVersion,
    onToolsChanged: () => void heard.tools++,
    onPromptsChanged: () => void heard.prompts++,
    onResourceUpdated: (uri) => void heard.updated.push(uri),
  });
  clients.push(client);
  const token = await idp.sign({ sub, client_id: clientId });
  await client.connect(url, { headers: { authorization: `Bearer ${token}` }, listen: true });
  await client.subscribe("notes://shared");
  return heard;
}

describe("announcements for one user", () => {
  for (const protocolVersion of ["2025-11-25", "2026-07-28"]) {
    it(`reach that user's sessions and listeners only (${protocolVersion})`, async () => {
      const mcp = new McpServer({ name: "announcer", version: "1.0.0" });
      mcp.tool("noop", {}, () => "ok");
      mcp.prompt("hello", {}, () => "hello");
      mcp.resource("notes://shared", { name: "shared" }, () => "shared");
      const app = mcpApp(mcp, {
        path: "/mcp",
        sessions: true,
        auth: { issuer: idp.issuer, verify: idp.verify, audience: AUDIENCE },
      });
      const url = `${await listen(app)}/mcp`;
      // Alice on two clients, bob on one.
      const aliceCli = await caller(url, "alice", "cli", protocolVersion);
      const aliceIde = await caller(url, "alice", "ide", protocolVersion);
      const bob = await caller(url, "bob", "cli", protocolVersion);

      mcp.listChangedFor(user("alice"), "tools");
      mcp.resourceUpdated("notes://shared", { user: user("alice") });
      await until(() => aliceCli.tools === 1 && aliceIde.tools === 1);
      await until(() => aliceCli.updated.length === 1 && aliceIde.updated.length === 1);

      // Bob's own announcement comes after alice's on the same stream: once he hears it,
      // anything of alice's that reached him would be here already.
      mcp.listChangedFor(user("bob"), "prompts");
      await until(() => bob.prompts === 1);
      expect(bob).toEqual({ tools: 0, prompts: 1, updated: [] });
      expect(aliceCli.prompts).toBe(0);

      // An announcement for everyone still reaches everyone.
      mcp.resourceUpdated("notes://shared");
      await until(() => bob.updated.length === 1 && aliceCli.updated.length === 2);
    });
  }
});
