/**
 * `rateLimit` (issue 13): per-subject and per-tool limits as middleware, counted in a Store
 * on an injected clock. In memory here; over HTTP in both eras in
 * test/http/rate-limit.test.ts, and across instances on Redis in test/redis.
 */
import { describe, expect, it } from "vitest";
import {
  type Exchange,
  McpServer,
  Peer,
  RateLimited,
  type RateLimitOptions,
  rateLimit,
} from "../../src/index.ts";
import { memoryStore, StoreUnavailableError } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { capturingLogger } from "../helpers/log.ts";
import { error, exchange, result } from "./support.ts";

const RATE_LIMITED = -32029;

function as(subject: string, issuer = "https://idp.example"): Exchange {
  return {
    ...exchange(new Peer("2025-11-25")),
    auth: {
      kind: "user",
      subject,
      clientId: `app-of-${subject}`,
      scopes: [],
      claims: { iss: issuer, sub: subject },
    },
  };
}

/** A window boundary, so a test knows how far the clock is from the next window. */
const START = Date.UTC(2026, 0, 1, 12, 0, 0);

function limited(options: Omit<RateLimitOptions, "store" | "clock">) {
  const clock = manualClock(START);
  const logger = capturingLogger();
  const mcp = new McpServer({ name: "limited", version: "1.0.0" });
  let runs = 0;
  mcp.tool("search", {}, () => {
    runs++;
    return "found";
  });
  mcp.tool("export", {}, () => {
    runs++;
    return "exported";
  });
  mcp.use(rateLimit({ store: memoryStore(), clock: clock.now, logger, ...options }));
  return { mcp, clock, logger, runs: () => runs };
}

describe("per subject", () => {
  it("refuses the call after N in a window, with a retry hint, and the handler does not run", async () => {
    const { mcp, clock, runs } = limited({ perSubject: { limit: 3, windowSeconds: 60 } });
    const alice = as("alice");
    for (let i = 0; i < 3; i++) await result(mcp, "tools/call", { name: "search" }, alice);
    clock.advance(15_500);
    const refused = await error(mcp, "tools/call", { name: "search" }, alice);
    expect(refused).toEqual({
      code: RATE_LIMITED,
      message: "Rate limit exceeded: at most 3 requests per 60 s; retry in 45 s",
      data: { retryAfterSeconds: 45, scope: "subject", limit: 3, windowSeconds: 60 },
    });
    expect(runs()).toBe(3);
  });

  it("counts every request of the caller, lists included, and resets when the window ends", async () => {
    const { mcp, clock } = limited({ perSubject: { limit: 2, windowSeconds: 10 } });
    const alice = as("alice");
    await result(mcp, "tools/list", {}, alice);
    await result(mcp, "tools/call", { name: "search" }, alice);
    expect((await error(mcp, "ping", {}, alice)).code).toBe(RATE_LIMITED);
    clock.advance(9_999);
    expect((await error(mcp, "tools/call", { name: "search" }, alice)).code).toBe(RATE_LIMITED);
    clock.advance(1);
    await result(mcp, "tools/call", { name: "search" }, alice);
    await result(mcp, "tools/call", { name: "search" }, alice);
    expect((await error(mcp, "tools/call", { name: "search" }, alice)).code).toBe(RATE_LIMITED);
  });

  it("gives each subject its own budget; a user's clients share one", async () => {
    const { mcp } = limited({ perSubject: { limit: 1, windowSeconds: 60 } });
    await result(mcp, "tools/call", { name: "search" }, as("alice"));
    await result(mcp, "tools/call", { name: "search" }, as("bob"));
    // The same subject at another issuer is someone else.
    await result(mcp, "tools/call", { name: "search" }, as("alice", "https://other.example"));
    const otherClient: Exchange = {
      ...as("alice"),
      auth: { ...as("alice").auth!, clientId: "another-app" },
    };
    expect((await error(mcp, "tools/call", { name: "search" }, otherClient)).code).toBe(
      RATE_LIMITED,
    );
  });

  it("leaves requests with no verified caller alone unless `key` names them", async () => {
    const open = limited({ perSubject: { limit: 1, windowSeconds: 60 } });
    for (let i = 0; i < 3; i++) await result(open.mcp, "tools/call", { name: "search" });
    const keyed = limited({ perSubject: { limit: 1, windowSeconds: 60 }, key: () => "everyone" });
    await result(keyed.mcp, "tools/call", { name: "search" });
    expect((await error(keyed.mcp, "tools/call", { name: "search" })).code).toBe(RATE_LIMITED);
  });

  it("is reported to the logger, and reaches middleware added before it as a RateLimited", async () => {
    const clock = manualClock(START);
    const logger = capturingLogger();
    const mcp = new McpServer({ name: "limited", version: "1.0.0" });
    mcp.tool("search", {}, () => "found");
    const seen: unknown[] = [];
    mcp.use(async (ctx, next) => {
      try {
        return await next();
      } finally {
        seen.push(ctx.error);
      }
    });
    mcp.use(
      rateLimit({
        store: memoryStore(),
        clock: clock.now,
        logger,
        perSubject: { limit: 1, windowSeconds: 60 },
      }),
    );
    await result(mcp, "tools/call", { name: "search" }, as("alice"));
    await error(mcp, "tools/call", { name: "search" }, as("alice"));
    expect(seen[0]).toBeUndefined();
    expect(seen[1]).toBeInstanceOf(RateLimited);
    expect(seen[1]).toMatchObject({ scope: "subject", retryAfterSeconds: 60, limit: 1 });
    expect(logger.at("info")).toEqual([
      {
        level: "info",
        message: "rate limit hit",
        fields: {
          rpc_method: "tools/call",
          subject: "alice",
          client_id: "app-of-alice",
          limit_scope: "subject",
          tool: undefined,
          limit: 1,
          window_seconds: 60,
          retry_after_seconds: 60,
        },
      },
    ]);
  });
});

describe("with the other rules", () => {
  it("does not count what the access rules refuse", async () => {
    const clock = manualClock(START);
    const mcp = new McpServer({ name: "limited", version: "1.0.0" });
    mcp.tool("open", {}, () => "open");
    mcp.tool("admin", { canAccess: () => false }, () => "admin");
    mcp.tool("scoped", { scopes: ["admin:write"] }, () => "scoped");
    mcp.use(
      rateLimit({
        store: memoryStore(),
        clock: clock.now,
        perSubject: { limit: 1, windowSeconds: 60 },
      }),
    );
    const alice = as("alice");
    expect((await error(mcp, "tools/call", { name: "admin" }, alice)).code).toBe(-32602);
    expect((await error(mcp, "tools/call", { name: "scoped" }, alice)).code).toBe(-32600);
    await result(mcp, "tools/call", { name: "open" }, alice);
    expect((await error(mcp, "tools/call", { name: "open" }, alice)).code).toBe(RATE_LIMITED);
  });

  it("fails the request, handler not run, when the Store cannot be reached", async () => {
    const logger = capturingLogger();
    const mcp = new McpServer({ name: "limited", version: "1.0.0", logger });
    let runs = 0;
    mcp.tool("search", {}, () => {
      runs++;
      return "found";
    });
    const down = {
      ...memoryStore(),
      increment: () => Promise.reject(new StoreUnavailableError("redis is down")),
    };
    mcp.use(rateLimit({ store: down, perSubject: { limit: 100, windowSeconds: 60 } }));
    expect(await error(mcp, "tools/call", { name: "search" }, as("alice"))).toMatchObject({
      code: -32603,
      message: "Internal error",
    });
    expect(runs).toBe(0);
    expect(logger.at("error")).toHaveLength(1);
  });
});

describe("per tool", () => {
  it("limits one tool apart from the caller's overall budget", async () => {
    const { mcp, clock } = limited({
      perSubject: { limit: 10, windowSeconds: 60 },
      perTool: { export: { limit: 2, windowSeconds: 30 } },
    });
    const alice = as("alice");
    await result(mcp, "tools/call", { name: "export" }, alice);
    await result(mcp, "tools/call", { name: "export" }, alice);
    clock.advance(20_000);
    expect(await error(mcp, "tools/call", { name: "export" }, alice)).toEqual({
      code: RATE_LIMITED,
      message: 'Rate limit exceeded: at most 2 calls of tool "export" per 30 s; retry in 10 s',
      data: { retryAfterSeconds: 10, scope: "tool", limit: 2, windowSeconds: 30, tool: "export" },
    });
    // Other tools, and other callers of this one, go on.
    await result(mcp, "tools/call", { name: "search" }, alice);
    await result(mcp, "tools/call", { name: "export" }, as("bob"));
    // The tool's window ends before the caller's.
    clock.advance(10_000);
    await result(mcp, "tools/call", { name: "export" }, alice);
  });

  it("works without a per-subject limit, and the per-subject limit still refuses first", async () => {
    const toolOnly = limited({ perTool: { export: { limit: 1, windowSeconds: 60 } } });
    const alice = as("alice");
    for (let i = 0; i < 5; i++) await result(toolOnly.mcp, "tools/call", { name: "search" }, alice);
    await result(toolOnly.mcp, "tools/call", { name: "export" }, alice);
    expect((await error(toolOnly.mcp, "tools/call", { name: "export" }, alice)).data).toMatchObject(
      { scope: "tool" },
    );

    const both = limited({
      perSubject: { limit: 1, windowSeconds: 60 },
      perTool: { export: { limit: 5, windowSeconds: 60 } },
    });
    await result(both.mcp, "tools/call", { name: "search" }, alice);
    expect((await error(both.mcp, "tools/call", { name: "export" }, alice)).data).toMatchObject({
      scope: "subject",
    });
  });

  it("admits exactly the limit when calls race", async () => {
    const { mcp, runs } = limited({ perTool: { search: { limit: 5, windowSeconds: 60 } } });
    const alice = as("alice");
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        mcp.dispatch(
          { jsonrpc: "2.0", id: Math.random(), method: "tools/call", params: { name: "search" } },
          alice,
        ),
      ),
    );
    expect(answers.filter((answer) => answer && "result" in answer)).toHaveLength(5);
    expect(runs()).toBe(5);
  });
});

describe("options", () => {
  const store = memoryStore();
  it.each<[string, unknown, RegExp]>([
    ["no limit at all", { store }, /perSubject, perTool or both/],
    ["no store", { perSubject: { limit: 1, windowSeconds: 1 } }, /store must be a Store/],
    ["a zero limit", { store, perSubject: { limit: 0, windowSeconds: 1 } }, /perSubject.limit/],
    ["a fractional limit", { store, perSubject: { limit: 1.5, windowSeconds: 1 } }, /limit/],
    [
      "a window in milliseconds",
      { store, perSubject: { limit: 1, windowSeconds: 60_000_000 } },
      /windowSeconds is in seconds/,
    ],
    ["a fractional window", { store, perSubject: { limit: 1, windowSeconds: 0.5 } }, /seconds/],
    [
      "a bad per-tool rule",
      { store, perTool: { export: { limit: 1 } } },
      /perTool\["export"\]\.windowSeconds/,
    ],
  ])("are checked at construction: %s", (_name, options, message) => {
    expect(() => rateLimit(options as RateLimitOptions)).toThrow(message);
  });
});
