/**
 * The reply stream of a 2026-07-28 request: progress and log notifications on it (logs only
 * for requests that opted in with a level), and closing it cancels the request.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LOGGING_LEVELS, McpServer } from "../../src/index.ts";
import { errorOf, META, modernCall, modernPost, resultOf } from "./modern-support.ts";
import { deferred, type Json, SseReader, start } from "./support.ts";

function build() {
  const mcp = new McpServer({ name: "streaming", version: "1.0.0" });
  const gate = { current: deferred() };
  const aborted = { current: deferred<unknown>() };
  const started = { current: deferred() };

  mcp.tool("stepwise", {}, async (_args, ctx) => {
    await ctx.progress(1, 2, "half");
    await gate.current.promise;
    await ctx.progress(2, 2, "all");
    return "stepped";
  });

  mcp.tool("logs", {}, (_args, ctx) => {
    for (const level of LOGGING_LEVELS) ctx.log[level]({ at: level }, "suite");
    return "logged";
  });

  // Waits for its own cancellation, after saying something (or nothing) first.
  mcp.tool("endless", { input: z.object({ speak: z.boolean() }) }, async ({ speak }, ctx) => {
    ctx.signal.addEventListener("abort", () => aborted.current.resolve(ctx.signal.reason));
    started.current.resolve();
    if (speak) await ctx.progress(1, undefined, "working");
    await new Promise(() => {});
  });

  return { mcp, gate, aborted, started };
}

describe("the reply stream of a 2026-07-28 request", () => {
  it("carries progress notifications before the response, as they happen", async () => {
    const { mcp, gate } = build();
    const url = await start(mcp, { keepAliveMs: 0 });
    const response = await modernPost(
      url,
      1,
      "tools/call",
      { name: "stepwise", arguments: {} },
      { meta: { progressToken: "tok" } },
    );
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = new SseReader(response);
    // The first notification arrives while the handler still waits.
    expect(await reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/progress",
      params: { progressToken: "tok", progress: 1, total: 2, message: "half" },
    });
    gate.current.resolve();
    expect(await reader.messages()).toEqual([
      {
        jsonrpc: "2.0",
        method: "notifications/progress",
        params: { progressToken: "tok", progress: 2, total: 2, message: "all" },
      },
      {
        jsonrpc: "2.0",
        id: 1,
        result: expect.objectContaining({
          resultType: "complete",
          content: [{ type: "text", text: "stepped" }],
        }),
      },
    ]);
  });

  it("sends no progress to a request without a progress token", async () => {
    const { mcp, gate } = build();
    gate.current.resolve();
    const url = await start(mcp, { keepAliveMs: 0 });
    const reply = await modernCall(url, 1, "tools/call", { name: "stepwise", arguments: {} });
    expect(reply.messages).toHaveLength(1);
    expect(resultOf(reply).content).toEqual([{ type: "text", text: "stepped" }]);
  });

  it("sends no log messages to a request that did not ask for a level", async () => {
    const url = await start(build().mcp, { keepAliveMs: 0 });
    const reply = await modernCall(url, 1, "tools/call", { name: "logs", arguments: {} });
    expect(reply.messages.map((m) => m.method ?? "response")).toEqual(["response"]);
  });

  it("sends log messages at and above the level in _meta, on the request's stream", async () => {
    const url = await start(build().mcp, { keepAliveMs: 0 });
    const levels = async (level: string) => {
      const reply = await modernCall(
        url,
        1,
        "tools/call",
        { name: "logs", arguments: {} },
        { meta: { [META.logLevel]: level } },
      );
      expect(reply.response.result).toMatchObject({ content: [{ text: "logged" }] });
      const logs = reply.messages.filter((m) => m.method === "notifications/message");
      for (const log of logs) {
        expect(log.params).toEqual({
          level: (log.params as Json).level,
          logger: "suite",
          data: { at: (log.params as Json).level },
        });
      }
      return logs.map((m) => (m.params as Json).level);
    };
    expect(await levels("warning")).toEqual(["warning", "error", "critical", "alert", "emergency"]);
    expect(await levels("debug")).toEqual([...LOGGING_LEVELS]);
    expect(await levels("emergency")).toEqual(["emergency"]);
  });

  it("rejects an unknown log level with 400 and -32602 before running anything", async () => {
    const url = await start(build().mcp, { keepAliveMs: 0 });
    const reply = await modernCall(
      url,
      1,
      "tools/call",
      { name: "logs", arguments: {} },
      { meta: { [META.logLevel]: "chatty" } },
    );
    expect(reply.status).toBe(400);
    expect(errorOf(reply)).toMatchObject({ code: -32602 });
    expect(reply.messages).toHaveLength(1);
  });

  it("cancels the request when the client closes its stream mid-way", async () => {
    const { mcp, aborted } = build();
    const url = await start(mcp, { keepAliveMs: 0 });
    const abort = new AbortController();
    const response = await modernPost(
      url,
      1,
      "tools/call",
      { name: "endless", arguments: { speak: true } },
      { meta: { progressToken: 1 }, signal: abort.signal },
    );
    const reader = new SseReader(response);
    expect((await reader.message()).method).toBe("notifications/progress");
    abort.abort();
    await reader.cancel();
    // The handler's signal aborts: the work stops.
    expect(await aborted.current.promise).toBeDefined();
    // The endpoint carries on.
    const list = resultOf(await modernCall(url, 2, "tools/list"));
    expect((list.tools as Json[]).map((tool) => tool.name)).toEqual([
      "stepwise",
      "logs",
      "endless",
    ]);
  });

  it("cancels a request whose reply has not started when the client goes away", async () => {
    const { mcp, aborted, started } = build();
    const url = await start(mcp, { keepAliveMs: 0 });
    const abort = new AbortController();
    const pending = modernPost(
      url,
      1,
      "tools/call",
      { name: "endless", arguments: { speak: false } },
      { signal: abort.signal },
    ).catch((error: unknown) => error);
    await started.current.promise;
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    expect(await aborted.current.promise).toBeDefined();
    expect(resultOf(await modernCall(url, 2, "tools/list")).tools).toHaveLength(3);
  });

  it("answers with one JSON body and no notifications when the transport replies with JSON", async () => {
    const { mcp, gate } = build();
    gate.current.resolve();
    const url = await start(mcp, { keepAliveMs: 0, jsonResponse: true });
    const reply = await modernCall(
      url,
      1,
      "tools/call",
      { name: "stepwise", arguments: {} },
      { meta: { progressToken: "tok", [META.logLevel]: "debug" } },
    );
    expect(reply.contentType).toBe("application/json");
    expect(reply.messages).toHaveLength(1);
    expect(resultOf(reply).content).toEqual([{ type: "text", text: "stepped" }]);
  });
});
