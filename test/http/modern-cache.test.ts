/**
 * Cacheable results (2026-07-28): `ttlMs` and `cacheScope` on every list, read and discover
 * result, from the server's defaults, its options and each resource's own; "private" for
 * authenticated callers unless configured; none on interim results; deterministic order.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, type McpServerOptions } from "../../src/index.ts";
import {
  as,
  inputRequired,
  modernCall,
  resultOf,
  runRounds,
  startProtected,
} from "./modern-support.ts";
import { initSession, type Json, messagesOf, post, sessionHeaders, start } from "./support.ts";

const CACHEABLE: [string, Json][] = [
  ["tools/list", {}],
  ["prompts/list", {}],
  ["resources/list", {}],
  ["resources/templates/list", {}],
  ["resources/read", { uri: "notes://plain" }],
  ["server/discover", {}],
];

function build(cache?: McpServerOptions["cache"], pageSize?: number) {
  const mcp = new McpServer({
    name: "cache",
    version: "1.0.0",
    ...(cache ? { cache } : {}),
    ...(pageSize ? { pageSize } : {}),
  });
  for (const name of ["zeta", "alpha", "mid"]) mcp.tool(name, {}, () => name);
  for (const name of ["p-zeta", "p-alpha"]) mcp.prompt(name, {}, () => name);
  mcp.resource("notes://plain", { name: "plain" }, () => "plain");
  mcp.resource("notes://hot", { name: "hot", cache: { ttlMs: 5000 } }, () => "hot");
  mcp.resource("notes://mine", { name: "mine", cache: { scope: "private" } }, () => "mine");
  mcp.resource(
    "docs://{id}",
    { name: "doc", cache: { ttlMs: 1234, scope: "public" } },
    ({ id }) => `doc ${id}`,
  );
  mcp.resource("ask://name", { name: "asks" }, async (_uri, ctx) => {
    const answer = await ctx.elicit({ message: "who?", schema: z.object({ name: z.string() }) });
    return `hello ${answer.content?.name}`;
  });
  return mcp;
}

async function hints(url: string, method: string, params: Json, headers = {}) {
  const result = resultOf(await modernCall(url, 1, method, params, { headers }));
  expect(result.resultType).toBe("complete");
  return { ttlMs: result.ttlMs, cacheScope: result.cacheScope };
}

describe("cache hints on 2026-07-28 results", () => {
  it("default to ttlMs 0 and public for anonymous callers, on every cacheable method", async () => {
    const url = await start(build());
    for (const [method, params] of CACHEABLE) {
      expect(await hints(url, method, params), method).toEqual({ ttlMs: 0, cacheScope: "public" });
    }
  });

  it("default to private for authenticated callers", async () => {
    const url = await startProtected(build());
    for (const [method, params] of CACHEABLE) {
      expect(await hints(url, method, params, as("alice")), method).toEqual({
        ttlMs: 0,
        cacheScope: "private",
      });
    }
  });

  it("follow the server's configured ttlMs and scope", async () => {
    const url = await start(build({ ttlMs: 60_000, scope: "private" }));
    for (const [method, params] of CACHEABLE) {
      expect(await hints(url, method, params), method).toEqual({
        ttlMs: 60_000,
        cacheScope: "private",
      });
    }
    // A configured ttlMs alone keeps the caller-dependent scope.
    const ttlOnly = await start(build({ ttlMs: 10 }));
    expect(await hints(ttlOnly, "tools/list", {})).toEqual({ ttlMs: 10, cacheScope: "public" });
  });

  it("let an explicitly public server stay public for authenticated callers", async () => {
    const url = await startProtected(build({ scope: "public" }));
    for (const [method, params] of CACHEABLE) {
      expect((await hints(url, method, params, as("bob"))).cacheScope, method).toBe("public");
    }
  });

  it("take a resource's own hints on resources/read, fixed or templated", async () => {
    const url = await start(build({ ttlMs: 100, scope: "public" }));
    expect(await hints(url, "resources/read", { uri: "notes://hot" })).toEqual({
      ttlMs: 5000,
      cacheScope: "public",
    });
    expect(await hints(url, "resources/read", { uri: "notes://mine" })).toEqual({
      ttlMs: 100,
      cacheScope: "private",
    });
    expect(await hints(url, "resources/read", { uri: "docs://7" })).toEqual({
      ttlMs: 1234,
      cacheScope: "public",
    });
    expect(await hints(url, "resources/read", { uri: "notes://plain" })).toEqual({
      ttlMs: 100,
      cacheScope: "public",
    });
    // The list results keep the server's hints.
    expect(await hints(url, "resources/list", {})).toEqual({ ttlMs: 100, cacheScope: "public" });
  });

  it("are absent on an interim input_required result and present on the completed retry", async () => {
    const url = await start(build({ ttlMs: 100 }));
    const { rounds, final } = await runRounds(
      url,
      "resources/read",
      { uri: "ask://name" },
      (requests) =>
        Object.fromEntries(
          Object.keys(requests).map((key) => [key, { action: "accept", content: { name: "Ada" } }]),
        ),
      { capabilities: { elicitation: {} } },
    );
    expect(rounds).toHaveLength(1);
    expect(rounds[0]).not.toHaveProperty("ttlMs");
    expect(rounds[0]).not.toHaveProperty("cacheScope");
    expect(resultOf(final)).toMatchObject({
      resultType: "complete",
      ttlMs: 100,
      cacheScope: "public",
      contents: [{ uri: "ask://name", text: "hello Ada" }],
    });
    // Reading the first round directly shows the same: no hints on the interim result.
    const first = await modernCall(
      url,
      2,
      "resources/read",
      { uri: "ask://name" },
      {
        capabilities: { elicitation: {} },
      },
    );
    expect(Object.keys(inputRequired(first))).not.toContain("ttlMs");
  });

  it("are not added to the results of the 2025 revisions", async () => {
    const mcp = build({ ttlMs: 100 });
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const response = await post(
      url,
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      sessionHeaders(id),
    );
    const [message] = (await messagesOf(response)) as Json[];
    const result = message?.result as Json;
    expect(result.tools).toHaveLength(3);
    expect(result).not.toHaveProperty("ttlMs");
    expect(result).not.toHaveProperty("cacheScope");
    expect(result).not.toHaveProperty("resultType");
  });
});

describe("list order", () => {
  const names = async (url: string, method: string, key: string, cursor?: string) => {
    const result = resultOf(await modernCall(url, 1, method, cursor ? { cursor } : {}));
    return {
      names: (result[key] as Json[]).map((item) => (item.name ?? item.uri) as string),
      nextCursor: result.nextCursor as string | undefined,
    };
  };

  it("is registration order, the same on every call", async () => {
    const mcp = build();
    const url = await start(mcp);
    for (let i = 0; i < 3; i++) {
      expect((await names(url, "tools/list", "tools")).names).toEqual(["zeta", "alpha", "mid"]);
      expect((await names(url, "prompts/list", "prompts")).names).toEqual(["p-zeta", "p-alpha"]);
      expect((await names(url, "resources/list", "resources")).names).toEqual([
        "plain",
        "hot",
        "mine",
        "asks",
      ]);
    }
    // A removed and re-registered tool goes to the end; the others keep their places.
    mcp.tools.get("alpha")?.remove();
    mcp.tool("alpha", {}, () => "again");
    expect((await names(url, "tools/list", "tools")).names).toEqual(["zeta", "mid", "alpha"]);
  });

  it("pages deterministically: the pages make up the whole list, the same each time", async () => {
    const url = await start(build(undefined, 2));
    const walk = async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await names(url, "tools/list", "tools", cursor);
        expect(page.names.length).toBeLessThanOrEqual(2);
        seen.push(...page.names);
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    };
    expect(await walk()).toEqual(["zeta", "alpha", "mid"]);
    expect(await walk()).toEqual(["zeta", "alpha", "mid"]);
  });
});
