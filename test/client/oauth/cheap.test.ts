/**
 * Cheap connections: with the server's discovery cached and a token stored, a new connection
 * sends the token with its very first request (no 401, no metadata fetch), and a 2025 one
 * opens no GET stream nothing would listen to. The HTTP requests are counted.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createDemoApp } from "../../../examples/demo/server.ts";
import {
  discoveryCache,
  McpClient,
  memoryTokenStore,
  OAuthAuthorizer,
  type TokenStore,
} from "../../../src/client/index.ts";
import { freshFor } from "../../../src/client/oauth/discovery-cache.ts";
import { memoryStore } from "../../../src/storage/index.ts";
import { manualClock } from "../../helpers/clock.ts";
import { devLoginRedirect, recordingFetch, type Seen, serveOnLocalhost } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const line = (s: Seen) => {
  const json = s.json as { method?: string } | undefined;
  return `${s.method} ${s.url.pathname}${json?.method ? ` ${json.method}` : ""} ${s.status}`;
};

/** Signs in once, so the store holds a token and the cache the server's discovery. */
async function signedIn(era: { protocolVersion?: string }) {
  const base = await serveOnLocalhost(createDemoApp());
  const tokens = memoryTokenStore();
  const cache = discoveryCache();
  const { redirect } = devLoginRedirect(base);
  const first = new McpClient({ name: "first", version: "1.0.0", ...era });
  open.push(first);
  await first.connect(`${base}/mcp`, {
    authorizer: new OAuthAuthorizer({ redirect, tokens, discovery: cache }),
  });
  await first.callTool("add_note", { text: "one" });
  return { base, tokens, cache };
}

async function secondConnection(
  base: string,
  tokens: TokenStore,
  era: { protocolVersion?: string },
  discovery: ReturnType<typeof discoveryCache> | false,
) {
  const asSeen: Seen[] = [];
  const mcpSeen: Seen[] = [];
  const { redirect, authorizations } = devLoginRedirect(base);
  const client = new McpClient({ name: "second", version: "1.0.0", ...era });
  open.push(client);
  await client.connect(`${base}/mcp`, {
    authorizer: new OAuthAuthorizer({
      redirect,
      tokens,
      discovery,
      fetch: recordingFetch(asSeen),
    }),
    fetch: recordingFetch(mcpSeen),
  });
  const listed = await client.callTool("list_notes", {});
  expect(listed.content).toEqual([{ type: "text", text: "1: one" }]);
  expect(authorizations).toHaveLength(0);
  return { asSeen, mcpSeen };
}

describe.each([
  {
    name: "2026-07-28",
    era: {},
    minimum: ["POST /mcp server/discover 200", "POST /mcp tools/call 200"],
  },
  {
    name: "2025-11-25",
    era: { protocolVersion: "2025-11-25" },
    minimum: [
      "POST /mcp initialize 200",
      "POST /mcp notifications/initialized 202",
      "POST /mcp tools/call 200",
    ],
  },
])("a second connection with a stored token ($name)", ({ era, minimum }) => {
  it("sends it with the first request: connect + first call is the minimum", async () => {
    const { base, tokens, cache } = await signedIn(era);
    const { asSeen, mcpSeen } = await secondConnection(base, tokens, era, cache);
    expect(mcpSeen.map(line)).toEqual(minimum);
    expect(asSeen).toEqual([]);
    const stored = (await tokens.get(base))?.tokens?.[`${base}/mcp`];
    expect(new Set(mcpSeen.map((s) => s.authorization))).toEqual(
      new Set([`Bearer ${stored?.accessToken}`]),
    );
  });

  it("without a discovery cache, spends a 401 and two metadata fetches first", async () => {
    const { base, tokens } = await signedIn(era);
    const { asSeen, mcpSeen } = await secondConnection(base, tokens, era, false);
    expect(mcpSeen[0]?.status).toBe(401);
    expect(mcpSeen[0]?.authorization).toBeNull();
    expect(mcpSeen.slice(1).map(line)).toEqual(minimum);
    expect(asSeen.map((s) => s.url.pathname)).toEqual([
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-authorization-server",
    ]);
  });
});

describe("the discovery cache", () => {
  it("keeps an entry as long as Cache-Control allows, capped", async () => {
    const clock = manualClock();
    const cache = discoveryCache({ store: memoryStore({ clock: clock.now }), maxAgeMs: 120_000 });
    const metadata = {
      resource: "https://a.example/mcp",
      authorizationServers: ["https://as"],
      url: "x",
    };
    await cache.putResource(
      "https://a.example/mcp",
      metadata,
      new Headers({ "cache-control": "public, max-age=60" }),
    );
    await cache.putResource(
      "https://b.example/mcp",
      metadata,
      new Headers({ "cache-control": "no-store" }),
    );
    await cache.putResource("https://c.example/mcp", metadata, new Headers());
    expect(await cache.resource("https://a.example/mcp")).toEqual(metadata);
    expect(await cache.resource("https://b.example/mcp")).toBeUndefined();
    clock.advance(61_000);
    expect(await cache.resource("https://a.example/mcp")).toBeUndefined();
    // No header: the cap.
    expect(await cache.resource("https://c.example/mcp")).toEqual(metadata);
    clock.advance(60_000);
    expect(await cache.resource("https://c.example/mcp")).toBeUndefined();
  });

  it("never sends a stored token to another server, whatever the shared cache and store hold", async () => {
    const era = {};
    const { tokens, cache } = await signedIn(era);
    // Another server, on another origin: nothing cached or stored is for it.
    const other = await serveOnLocalhost(createDemoApp());
    const seen: Seen[] = [];
    const { redirect } = devLoginRedirect(other);
    const client = new McpClient({ name: "other", version: "1.0.0" });
    open.push(client);
    await client.connect(`${other}/mcp`, {
      authorizer: new OAuthAuthorizer({ redirect, tokens, discovery: cache }),
      fetch: recordingFetch(seen),
    });
    expect(seen[0]).toMatchObject({ authorization: null, status: 401 });
    const firstToken = seen.find((s) => s.authorization)?.authorization;
    const stored = (await tokens.get(other))?.tokens?.[`${other}/mcp`];
    expect(firstToken).toBe(`Bearer ${stored?.accessToken}`);
  });

  it("reads caching headers", () => {
    const h = (value: string) => new Headers({ "cache-control": value });
    expect(freshFor(h("max-age=30"), 600_000)).toBe(30_000);
    expect(freshFor(h("public, max-age=99999"), 600_000)).toBe(600_000);
    expect(freshFor(h("no-cache"), 600_000)).toBe(0);
    expect(freshFor(h("max-age=0"), 600_000)).toBe(0);
    expect(() => discoveryCache({ maxAgeMs: -1 })).toThrow(TypeError);
  });

  it("a refused stored token is not sent again: the 401 path looks afresh and signs in", async () => {
    const era = { protocolVersion: "2025-11-25" };
    const { base, tokens, cache } = await signedIn(era);
    // The stored token is no good any more (revoked, another key): the server refuses it.
    const record = (await tokens.get(base))!;
    const mcpUrl = `${base}/mcp`;
    record.tokens![mcpUrl] = { accessToken: "revoked", tokenType: "Bearer" };
    await tokens.set(base, record);
    const asSeen: Seen[] = [];
    const mcpSeen: Seen[] = [];
    const { redirect, authorizations } = devLoginRedirect(base);
    const client = new McpClient({ name: "third", version: "1.0.0", ...era });
    open.push(client);
    await client.connect(mcpUrl, {
      authorizer: new OAuthAuthorizer({
        redirect,
        tokens,
        discovery: cache,
        fetch: recordingFetch(asSeen),
      }),
      fetch: recordingFetch(mcpSeen),
    });
    expect(mcpSeen[0]).toMatchObject({ authorization: "Bearer revoked", status: 401 });
    // Re-discovered rather than trusted from the cache, then a new sign-in.
    expect(asSeen[0]?.url.pathname).toBe("/.well-known/oauth-protected-resource/mcp");
    expect(authorizations).toHaveLength(1);
    expect(mcpSeen.filter((s) => s.authorization === "Bearer revoked")).toHaveLength(1);
  });
});
