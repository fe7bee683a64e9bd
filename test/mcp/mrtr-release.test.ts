/**
 * A handler suspended by a multi round-trip round (2026-07-28) is released once the round's
 * InputRequiredResult is the answer: its signal aborts, its pending request rejects, and its
 * `finally` blocks run. The client's retry runs it again.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCode, type McpError, McpServer, Peer } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { inputRequired, modernCall } from "../http/modern-support.ts";
import { start } from "../http/support.ts";
import { exchange, result } from "./support.ts";

function asking(events: string[]): McpServer {
  const mcp = new McpServer({ name: "release", version: "1.0.0" });
  mcp.tool("ask", {}, async (_args, ctx) => {
    ctx.signal.addEventListener("abort", () => {
      events.push(`abort ${(ctx.signal.reason as McpError).code}`);
    });
    try {
      const answer = await ctx.elicit({ message: "Name?", schema: z.object({ name: z.string() }) });
      events.push(`answered ${answer.action}`);
      return "done";
    } catch (error) {
      events.push(`rejected ${(error as McpError).code}`);
      throw error;
    } finally {
      events.push("finally");
    }
  });
  return mcp;
}

describe("a suspended multi round-trip handler", () => {
  it("is released when its round answers: the signal aborts, then finally runs", async () => {
    const events: string[] = [];
    const mcp = asking(events);
    const answer = await result(
      mcp,
      "tools/call",
      { name: "ask" },
      exchange(new Peer("2026-07-28")),
    );
    expect(answer.resultType).toBe("input_required");
    await until(() => events.includes("finally"));
    expect(events).toEqual([
      `abort ${ErrorCode.RequestTimeout}`,
      `rejected ${ErrorCode.RequestTimeout}`,
      "finally",
    ]);
  });

  it("is released over HTTP too, and the retry with the answer runs it to the end", async () => {
    const events: string[] = [];
    const url = await start(asking(events));
    const capabilities = { elicitation: { form: {} } };
    const first = await modernCall(url, 1, "tools/call", { name: "ask" }, { capabilities });
    const round = inputRequired(first);
    await until(() => events.includes("finally"));
    expect(events).toEqual([
      `abort ${ErrorCode.RequestTimeout}`,
      `rejected ${ErrorCode.RequestTimeout}`,
      "finally",
    ]);
    events.length = 0;
    const [key] = Object.keys(round.inputRequests);
    const retry = await modernCall(
      url,
      2,
      "tools/call",
      {
        name: "ask",
        requestState: round.requestState,
        inputResponses: { [key!]: { action: "accept", content: { name: "Ada" } } },
      },
      { capabilities },
    );
    expect((retry.response.result as { content: unknown }).content).toEqual([
      { type: "text", text: "done" },
    ]);
    expect(events).toEqual(["answered accept", "finally"]);
  });
});
