/** ctx.signal: notifications/cancelled and a client that goes away both stop the handler. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type Context, McpServer } from "../../src/index.ts";
import {
  deferred,
  initSession,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

interface Probe {
  /** Resolves with the abort reason's message when the tool's signal fires. */
  aborted: Promise<string>;
  /** Resolves with the tool's context once it runs. */
  running: Promise<Context>;
}

/** A server whose "wait" tool runs until its signal fires; `probe()` watches the next call. */
function server(): { mcp: McpServer; probe: () => Probe } {
  const mcp = new McpServer({ name: "cancellation", version: "1.0.0" });
  let next: { aborted: (reason: string) => void; running: (ctx: Context) => void } | undefined;
  mcp.tool("wait", { input: z.object({ say: z.boolean().optional() }) }, async ({ say }, ctx) => {
    const watch = next;
    next = undefined;
    watch?.running(ctx);
    if (say) ctx.log.info("started");
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    const reason: unknown = ctx.signal.reason;
    watch?.aborted(reason instanceof Error ? reason.message : String(reason));
    return "stopped";
  });
  mcp.tool("ask_then_report", {}, async (_args, ctx) => {
    const watch = next;
    next = undefined;
    watch?.running(ctx);
    try {
      await ctx.elicit({ message: "?", schema: z.object({ x: z.string() }) });
      watch?.aborted("answered");
    } catch (error) {
      watch?.aborted(error instanceof Error ? error.message : String(error));
    }
    return "done";
  });
  const probe = (): Probe => {
    const aborted = deferred<string>();
    const running = deferred<Context>();
    next = { aborted: aborted.resolve, running: running.resolve };
    return { aborted: aborted.promise, running: running.promise };
  };
  return { mcp, probe };
}

function cancel(requestId: number | string, reason?: string) {
  const params: Record<string, unknown> = { requestId };
  if (reason) params.reason = reason;
  return { jsonrpc: "2.0", method: "notifications/cancelled", params };
}

describe("notifications/cancelled", () => {
  it("aborts ctx.signal of the running request it names", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const headers = sessionHeaders(id);
    const watch = probe();
    const reader = new SseReader(await post(url, toolCall(7, "wait", { say: true }), headers));
    await reader.message();
    const ctx = await watch.running;
    expect(ctx.signal.aborted).toBe(false);
    const response = await post(url, cancel(7, "user pressed stop"), headers);
    expect(response.status).toBe(202);
    expect(await watch.aborted).toContain("user pressed stop");
    await reader.cancel();
  });

  it("leaves other requests alone", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const headers = sessionHeaders(id);
    const watch = probe();
    const reader = new SseReader(await post(url, toolCall(7, "wait", { say: true }), headers));
    await reader.message();
    const ctx = await watch.running;
    expect((await post(url, cancel(8), headers)).status).toBe(202);
    expect((await post(url, cancel("7"), headers)).status).toBe(202);
    expect(ctx.signal.aborted).toBe(false);
    await post(url, cancel(7), headers);
    await watch.aborted;
    await reader.cancel();
  });

  it("cannot cancel another session's request", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp, { sessions: true });
    const a = await initSession(url);
    const b = await initSession(url);
    const watch = probe();
    const reader = new SseReader(
      await post(url, toolCall(7, "wait", { say: true }), sessionHeaders(a.id)),
    );
    await reader.message();
    const ctx = await watch.running;
    const response = await post(url, cancel(7), sessionHeaders(b.id));
    expect(response.status).toBe(202);
    expect(ctx.signal.aborted).toBe(false);
    await post(url, cancel(7), sessionHeaders(a.id));
    await watch.aborted;
    await reader.cancel();
  });

  it("gives up a server-to-client request the client cancelled", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url, "2025-11-25", { elicitation: {} });
    const headers = sessionHeaders(id);
    const watch = probe();
    const reader = new SseReader(await post(url, toolCall(3, "ask_then_report"), headers));
    expect(await reader.message()).toMatchObject({ method: "elicitation/create" });
    await post(url, cancel(3, "never mind"), headers);
    expect(await watch.aborted).toContain("never mind");
    await reader.cancel();
  });
});

describe("client disconnect", () => {
  it("aborts ctx.signal when the client drops a streaming SSE reply", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp);
    const watch = probe();
    const controller = new AbortController();
    const response = await post(url, toolCall(1, "wait", { say: true }), {}, controller.signal);
    const reader = new SseReader(response);
    expect(await reader.message()).toMatchObject({ method: "notifications/message" });
    controller.abort();
    expect(typeof (await watch.aborted)).toBe("string");
    expect((await watch.running).signal.aborted).toBe(true);
  });

  it("aborts ctx.signal when the client leaves before anything was sent", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp, { keepAliveMs: 0 });
    const watch = probe();
    const controller = new AbortController();
    const pending = post(url, toolCall(1, "wait"), {}, controller.signal);
    await watch.running;
    controller.abort();
    await expect(pending).rejects.toThrow();
    expect(typeof (await watch.aborted)).toBe("string");
  });

  it("aborts ctx.signal in a session's non-resumable reply", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const watch = probe();
    const controller = new AbortController();
    const response = await post(
      url,
      toolCall(1, "wait", { say: true }),
      sessionHeaders(id),
      controller.signal,
    );
    await new SseReader(response).message();
    controller.abort();
    expect(typeof (await watch.aborted)).toBe("string");
  });

  it("aborts ctx.signal when a JSON-mode client leaves", async () => {
    const { mcp, probe } = server();
    const url = await start(mcp, { jsonResponse: true });
    const watch = probe();
    const controller = new AbortController();
    const pending = post(url, toolCall(1, "wait"), {}, controller.signal);
    await watch.running;
    controller.abort();
    await expect(pending).rejects.toThrow();
    expect(typeof (await watch.aborted)).toBe("string");
  });
});
