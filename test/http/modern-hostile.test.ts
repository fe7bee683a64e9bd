/**
 * Hostile 2026-07-28 input: oversized or malformed input responses, expired or foreign
 * request state, responses and batches in the body. Each is refused with the spec's error,
 * nothing runs, and the endpoint carries on.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import { manualClock } from "../helpers/clock.ts";
import {
  as,
  errorOf,
  inputRequired,
  META,
  modernCall,
  modernHeaders,
  modernRequest,
  resultOf,
  startProtected,
} from "./modern-support.ts";
import { type Json, messagesOf, post, start } from "./support.ts";

const ELICITATION = { capabilities: { elicitation: {} } };

function build(options: { inputTtlMs?: number; clock?: () => number } = {}) {
  const mcp = new McpServer({ name: "hostile", version: "1.0.0", ...options });
  const runs = { ask: 0, plain: 0 };
  mcp.tool("ask", { input: z.object({ topic: z.string() }) }, async ({ topic }, ctx) => {
    runs.ask++;
    const first = await ctx.elicit({ message: "first?", schema: z.object({ a: z.string() }) });
    const second = await ctx.elicit({ message: "second?", schema: z.object({ b: z.string() }) });
    return `${topic}: ${first.content?.a} ${second.content?.b}`;
  });
  mcp.tool("plain", {}, () => {
    runs.plain++;
    return "plain";
  });
  mcp.prompt("ask", { args: z.object({ topic: z.string() }) }, () => "prompt");
  return { mcp, runs };
}

const accept = (content: Json) => ({ action: "accept", content });

/** Starts the "ask" tool and returns its first round. */
async function firstRound(url: string, headers: Record<string, string> = {}) {
  const reply = await modernCall(
    url,
    1,
    "tools/call",
    { name: "ask", arguments: { topic: "t" } },
    { ...ELICITATION, headers },
  );
  return inputRequired(reply);
}

function retry(
  url: string,
  extra: Json,
  headers: Record<string, string> = {},
  args: Json = { topic: "t" },
) {
  return modernCall(
    url,
    2,
    "tools/call",
    { name: "ask", arguments: args, ...extra },
    { ...ELICITATION, headers },
  );
}

describe("hostile 2026-07-28 input", () => {
  it("refuses inputResponses over 256 KiB with -32602, and runs nothing", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const round = await firstRound(url);
    expect(runs.ask).toBe(1);
    const huge = { "input-0": accept({ a: "x".repeat(256 * 1024) }) };
    const refused = await retry(url, { inputResponses: huge, requestState: round.requestState });
    expect(errorOf(refused)).toMatchObject({
      code: -32602,
      message: expect.stringMatching(/inputResponses/),
    });
    // Without a requestState too: the size is checked before anything else.
    const alone = await retry(url, { inputResponses: huge });
    expect(errorOf(alone)).toMatchObject({ code: -32602 });
    expect(runs.ask).toBe(1);
    // Just under the limit is fine, and unknown keys are ignored.
    const padded = {
      "input-0": accept({ a: "A" }),
      junk: { pad: "y".repeat(200 * 1024) },
    };
    const next = inputRequired(
      await retry(url, { inputResponses: padded, requestState: round.requestState }),
    );
    expect(Object.values(next.inputRequests).map((r) => r.params.message)).toEqual(["second?"]);
    expect(runs.ask).toBe(2);
  });

  it("counts the size of inputResponses in bytes, not characters", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const round = await firstRound(url);
    // 100 Ki characters of three UTF-8 bytes each: 300 KiB on the wire.
    const wide = { "input-0": accept({ a: "€".repeat(100 * 1024) }) };
    const refused = await retry(url, { inputResponses: wide, requestState: round.requestState });
    expect(errorOf(refused)).toMatchObject({ code: -32602 });
    expect(runs.ask).toBe(1);
  });

  it("refuses malformed inputResponses and requestState with -32602", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const round = await firstRound(url);
    for (const extra of [
      { inputResponses: [accept({ a: "A" })], requestState: round.requestState },
      { inputResponses: "A", requestState: round.requestState },
      { inputResponses: null, requestState: round.requestState },
      { inputResponses: null },
      { inputResponses: { "input-0": 12345 }, requestState: round.requestState },
      { inputResponses: { "input-0": accept({ a: "A" }), junk: "not a result" } },
      { inputResponses: { "input-0": [accept({ a: "A" })] }, requestState: round.requestState },
      { inputResponses: {}, requestState: 42 },
      { inputResponses: {}, requestState: { sealed: true } },
      { inputResponses: {}, requestState: "x".repeat(1024 * 1024 + 1) },
      { inputResponses: {}, requestState: "" },
    ]) {
      const reply = await retry(url, extra);
      expect(errorOf(reply), JSON.stringify(extra).slice(0, 80)).toMatchObject({ code: -32602 });
    }
    expect(runs.ask).toBe(1);
  });

  it("refuses requestState from an expired round, and a fresh start still works", async () => {
    const clock = manualClock();
    const { mcp, runs } = build({ inputTtlMs: 50, clock: clock.now });
    const url = await start(mcp);
    const round = await firstRound(url);
    clock.advance(51);
    const expired = await retry(url, {
      inputResponses: { "input-0": accept({ a: "A" }) },
      requestState: round.requestState,
    });
    expect(errorOf(expired)).toMatchObject({
      code: -32602,
      message: expect.stringContaining("expired"),
    });
    expect(runs.ask).toBe(1);
    await firstRound(url);
    expect(runs.ask).toBe(2);
  });

  it("refuses requestState replayed into another method", async () => {
    const { mcp } = build();
    const url = await start(mcp);
    const round = await firstRound(url);
    const reply = await modernCall(url, 3, "prompts/get", {
      name: "ask",
      arguments: { topic: "t" },
      inputResponses: { "input-0": accept({ a: "A" }) },
      requestState: round.requestState,
    });
    expect(errorOf(reply)).toMatchObject({
      code: -32602,
      message: expect.stringContaining("another request"),
    });
  });

  it("binds requestState to the arguments whatever their key order, and refuses changed ones", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const answers = { "input-0": accept({ a: "A" }) };
    // A few keys, and more than a short list (two ways of sorting), with nested objects.
    for (const extra of [2, 30]) {
      const args: Json = { topic: "t", nested: { y: [1, { q: 1, p: 2 }], x: null } };
      for (let i = 0; i < extra; i++) args[`k${String(i).padStart(2, "0")}`] = i;
      const reversed = (value: unknown): unknown =>
        Array.isArray(value)
          ? value.map(reversed)
          : value !== null && typeof value === "object"
            ? Object.fromEntries(
                Object.entries(value)
                  .reverse()
                  .map(([key, item]) => [key, reversed(item)]),
              )
            : value;
      const first = inputRequired(
        await modernCall(url, 1, "tools/call", { name: "ask", arguments: args }, ELICITATION),
      );
      const state = { inputResponses: answers, requestState: first.requestState };
      const next = inputRequired(await retry(url, state, {}, reversed(args) as Json));
      expect(Object.values(next.inputRequests).map((r) => r.params.message)).toEqual(["second?"]);
      const before = runs.ask;
      for (const changed of [
        { ...args, k00: 1 },
        { ...args, nested: { y: [1, { q: 1, p: 3 }], x: null } },
        { ...args, extra: true },
      ]) {
        expect(errorOf(await retry(url, state, {}, changed))).toMatchObject({
          code: -32602,
          message: expect.stringContaining("another request"),
        });
      }
      expect(runs.ask).toBe(before);
    }
  });

  it("ignores answers smuggled in for questions that were not asked yet", async () => {
    const { mcp } = build();
    const url = await start(mcp);
    const round = await firstRound(url);
    const next = inputRequired(
      await retry(url, {
        inputResponses: { "input-0": accept({ a: "A" }), "input-1": accept({ b: "forged" }) },
        requestState: round.requestState,
      }),
    );
    expect(Object.values(next.inputRequests).map((r) => r.params.message)).toEqual(["second?"]);
    const key = Object.keys(next.inputRequests)[0]!;
    const done = await retry(url, {
      inputResponses: { [key]: accept({ b: "B" }) },
      requestState: next.requestState,
    });
    expect(resultOf(done).content).toEqual([{ type: "text", text: "t: A B" }]);
  });

  it("refuses requestState presented by another caller", async () => {
    const { mcp, runs } = build();
    const url = await startProtected(mcp);
    const round = await firstRound(url, as("alice"));
    const answers = { "input-0": accept({ a: "A" }) };
    const stolen = await retry(
      url,
      { inputResponses: answers, requestState: round.requestState },
      as("mallory"),
    );
    expect(errorOf(stolen)).toMatchObject({
      code: -32602,
      message: expect.stringContaining("another request"),
    });
    expect(runs.ask).toBe(1);
    // Its owner can still use it.
    const next = inputRequired(
      await retry(url, { inputResponses: answers, requestState: round.requestState }, as("alice")),
    );
    expect(Object.keys(next.inputRequests)).toHaveLength(1);
    expect(runs.ask).toBe(2);
  });

  it("answers a JSON-RPC response in the body with 400", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    for (const body of [
      { jsonrpc: "2.0", id: 1, result: {} },
      { jsonrpc: "2.0", id: 1, error: { code: -32603, message: "no" } },
    ]) {
      const response = await post(url, body, modernHeaders("tools/call"));
      expect(response.status).toBe(400);
      expect(await messagesOf(response)).toEqual([
        {
          jsonrpc: "2.0",
          id: null,
          error: { code: -32600, message: expect.stringContaining("responses") },
        },
      ]);
    }
    expect(resultOf(await modernCall(url, 9, "tools/call", { name: "plain" })).content).toEqual([
      { type: "text", text: "plain" },
    ]);
    expect(runs.plain).toBe(1);
  });

  it("answers a batch of 2026-07-28 requests with 400 and runs none of it", async () => {
    const { mcp, runs } = build();
    for (const options of [{}, { sessions: true }] as const) {
      const url = await start(mcp, options);
      const batch = [
        modernRequest(1, "tools/call", { name: "plain" }),
        modernRequest(2, "tools/list"),
      ];
      for (const version of ["2026-07-28", undefined, "2025-03-26"]) {
        const headers = modernHeaders(
          "tools/call",
          { name: "plain" },
          {
            "mcp-protocol-version": version,
          },
        );
        const response = await post(url, batch, headers);
        expect(response.status, `${JSON.stringify(options)} ${version}`).toBe(400);
        expect(await messagesOf(response)).toMatchObject([{ id: null, error: { code: -32600 } }]);
      }
    }
    expect(runs.plain).toBe(0);
  });

  it("refuses a request whose _meta lacks a required field with 400 and -32602", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const full = modernRequest(1, "tools/call", { name: "plain" }).params as Json;
    const meta = full._meta as Json;
    const without = (key: string) =>
      Object.fromEntries(Object.entries(meta).filter(([k]) => k !== key));
    for (const [what, params] of [
      ["no _meta", { name: "plain" }],
      ["_meta not an object", { name: "plain", _meta: "2026-07-28" }],
      ["no protocol version", { name: "plain", _meta: without(META.protocolVersion) }],
      ["no client capabilities", { name: "plain", _meta: without(META.clientCapabilities) }],
      [
        "capabilities not an object",
        { name: "plain", _meta: { ...meta, [META.clientCapabilities]: "all" } },
      ],
    ] as const) {
      const response = await post(
        url,
        { jsonrpc: "2.0", id: 7, method: "tools/call", params },
        modernHeaders("tools/call", { name: "plain" }),
      );
      expect(response.status, what).toBe(400);
      expect(await messagesOf(response), what).toEqual([
        { jsonrpc: "2.0", id: 7, error: { code: -32602, message: expect.any(String) } },
      ]);
    }
    expect(runs.plain).toBe(0);
    // clientInfo is only a SHOULD: a request without it is served.
    const served = await post(
      url,
      {
        jsonrpc: "2.0",
        id: 8,
        method: "tools/call",
        params: { name: "plain", _meta: without(META.clientInfo) },
      },
      modernHeaders("tools/call", { name: "plain" }),
    );
    expect(served.status).toBe(200);
    expect(runs.plain).toBe(1);
  });
});
