/**
 * State a handler carries across the runs of one multi round-trip request (2026-07-28):
 * `ctx.carry(value)` seals it into the round's requestState, `ctx.carried` reads it back on
 * the retry, and the client can neither read it nor bring it to another request.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import { errorOf, inputRequired, modernCall, resultOf, runRounds } from "./modern-support.ts";
import { type Json, start } from "./support.ts";

const ELICITATION = { capabilities: { elicitation: {} } };
const SECRET = "carried-secret-7f3a";

function build() {
  const mcp = new McpServer({ name: "carry", version: "1.0.0" });
  const seen: unknown[] = [];
  const carriedBack: boolean[] = [];
  mcp.tool(
    "count",
    { description: "carries a counter through two rounds", input: z.object({ n: z.number() }) },
    async (_args, ctx) => {
      seen.push(ctx.carried);
      const runs = ((ctx.carried as { runs?: number } | undefined)?.runs ?? 0) + 1;
      carriedBack.push(ctx.carry({ runs, secret: SECRET }));
      const schema = z.object({ ok: z.boolean() });
      await ctx.elicit({ message: "first?", schema }, { key: "first" });
      await ctx.elicit({ message: "second?", schema }, { key: "second" });
      return `runs: ${runs}`;
    },
  );
  mcp.tool("keeps", { description: "carries once, asks twice" }, async (_args, ctx) => {
    seen.push(ctx.carried);
    if (ctx.carried === undefined) ctx.carry("from the first run");
    const schema = z.object({ ok: z.boolean() });
    await ctx.elicit({ message: "a?", schema }, { key: "a" });
    await ctx.elicit({ message: "b?", schema }, { key: "b" });
    return String(ctx.carried);
  });
  mcp.tool("too_big", { description: "carries too much" }, async (_args, ctx) => {
    ctx.carry("x".repeat(17 * 1024));
    return "never";
  });
  return { mcp, seen, carriedBack };
}

const yes = () => ({ action: "accept", content: { ok: true } });
const answerAll = (requests: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(requests).map((key) => [key, yes()]));

describe("ctx.carry and ctx.carried", () => {
  it("hands each run what the run before it carried", async () => {
    const { mcp, seen, carriedBack } = build();
    const url = await start(mcp);
    const { rounds, final } = await runRounds(
      url,
      "tools/call",
      { name: "count", arguments: { n: 1 } },
      answerAll,
      ELICITATION,
    );
    expect(rounds).toHaveLength(2);
    expect(resultOf(final).content).toEqual([{ type: "text", text: "runs: 3" }]);
    expect(seen).toEqual([undefined, { runs: 1, secret: SECRET }, { runs: 2, secret: SECRET }]);
    expect(carriedBack).toEqual([true, true, true]);
  });

  it("keeps a value carried through later rounds until replaced", async () => {
    const { mcp, seen } = build();
    const url = await start(mcp);
    const { final } = await runRounds(
      url,
      "tools/call",
      { name: "keeps", arguments: {} },
      answerAll,
      ELICITATION,
    );
    expect(resultOf(final).content).toEqual([{ type: "text", text: "from the first run" }]);
    expect(seen).toEqual([undefined, "from the first run", "from the first run"]);
  });

  it("seals it: the client cannot read it, and it does not follow the state elsewhere", async () => {
    const { mcp, seen } = build();
    const url = await start(mcp);
    const first = inputRequired(
      await modernCall(url, 1, "tools/call", { name: "count", arguments: { n: 1 } }, ELICITATION),
    );
    const state = first.requestState;
    expect(state).not.toContain(SECRET);
    expect(Buffer.from(state.replace(/[-_.]/g, ""), "base64").toString("latin1")).not.toContain(
      SECRET,
    );
    // The same state on other arguments is refused before the handler runs again.
    const other: Json = {
      name: "count",
      arguments: { n: 2 },
      requestState: state,
      inputResponses: { first: yes() },
    };
    const refused = errorOf(await modernCall(url, 2, "tools/call", other, ELICITATION));
    expect(refused.code).toBe(-32602);
    expect(seen).toEqual([undefined]);
  });

  it("refuses a value larger than 16 KiB of JSON", async () => {
    const { mcp } = build();
    const url = await start(mcp);
    const reply = await modernCall(url, 1, "tools/call", { name: "too_big" }, ELICITATION);
    expect(resultOf(reply).isError).toBe(true);
  });
});
