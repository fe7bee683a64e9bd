/** Progress, cancellation and time limits, seen from both ends. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { type McpClient, type Progress, TransportError } from "../../src/client/index.ts";
import { until } from "../helpers/async.ts";
import { client, MODES, richServer, serve } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

// Progress and cancellation ride on the reply stream: every mode with SSE replies, and the
// stateful JSON mode, whose notifications come on the GET stream.
describe.each(MODES)("$name", (mode) => {
  async function connect(options: Parameters<typeof client>[0] = {}) {
    const { mcp, seen } = richServer();
    const made = client({ ...mode.client, ...options });
    await made.client.connect(await serve(mcp, mode.options()));
    open.push(made.client);
    return { ...made, seen };
  }

  it("aborting a call cancels it on the server: ctx.signal aborts", async () => {
    const { client: c, seen } = await connect();
    const controller = new AbortController();
    const call = c.callTool("wait", {}, { signal: controller.signal });
    await seen.started.promise;
    controller.abort(new Error("user gave up"));
    await expect(call).rejects.toThrow("user gave up");
    // The server learns of it: by notifications/cancelled (with our reason), or, where a
    // reply does not outlive its connection, by the dropped connection too.
    const reason = await seen.aborted.promise;
    if (mode.sessions && mode.sse) expect(reason).toBe("Request cancelled: user gave up");
    // The connection is still good for more.
    await expect(c.ping()).resolves.toBeUndefined();
  });

  it("a timeout fails the call with ERR_TIMEOUT and cancels it on the server", async () => {
    const { client: c, seen } = await connect();
    const error = await c.callTool("wait", {}, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_TIMEOUT" });
    expect((error as Error).message).toContain("tools/call");
    const reason = await seen.aborted.promise;
    if (mode.sessions && mode.sse) expect(reason).toBe("Request cancelled: timeout");
  });

  it("a signal aborted before the call sends nothing", async () => {
    const { client: c, seen } = await connect();
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    await expect(c.callTool("wait", {}, { signal: controller.signal })).rejects.toThrow("too late");
    expect(seen.contexts).toEqual([]);
  });
});

describe.each(MODES.filter((mode) => mode.sse || mode.sessions))("$name", (mode) => {
  async function connect(options: Parameters<typeof client>[0] = {}) {
    const { mcp, seen } = richServer();
    const made = client({ ...mode.client, ...options });
    await made.client.connect(await serve(mcp, mode.options()));
    open.push(made.client);
    return { ...made, seen };
  }

  it("reports progress to the call's onProgress and to the client's hook", async () => {
    const global: (Progress & { progressToken: string | number })[] = [];
    const { client: c } = await connect({ onProgress: (p) => global.push(p) });
    const updates: Progress[] = [];
    const result = await c.callTool(
      "progress",
      { steps: 3 },
      { onProgress: (progress) => updates.push(progress) },
    );
    expect(result.content).toEqual([{ type: "text", text: "did 3 steps" }]);
    // In stateful JSON mode the notifications come on the GET stream, possibly after the reply.
    await until(() => updates.length === 3);
    expect(updates).toEqual([
      { progress: 1, total: 3, message: "step 1" },
      { progress: 2, total: 3, message: "step 2" },
      { progress: 3, total: 3, message: "step 3" },
    ]);
    expect(global.map((p) => p.progress)).toEqual([1, 2, 3]);
    expect(new Set(global.map((p) => p.progressToken)).size).toBe(1);
  });

  it("asks for no progress when the call has no onProgress", async () => {
    const global: unknown[] = [];
    const { client: c } = await connect({ onProgress: (p) => global.push(p) });
    await c.callTool("progress", { steps: 2 });
    await c.ping();
    expect(global).toEqual([]);
  });
});

// Progress-driven time limits: every mode whose progress arrives while the call runs. The
// tool's pauses and the client's time limits run on fake timers, which the test moves one
// step at a time once the previous step's progress has arrived; the HTTP traffic is real.
describe.each(MODES.filter((mode) => mode.sse))("$name: time limits and progress", (mode) => {
  afterEach(() => {
    vi.useRealTimers();
  });

  async function connect() {
    const { mcp } = richServer();
    const made = client(mode.client);
    await made.client.connect(await serve(mcp, mode.options()));
    open.push(made.client);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    return made.client;
  }

  // The tool runs 8 steps 100 ms apart: longer than timeoutMs, each step well inside it.
  const slow = { steps: 8, delayMs: 100 };

  /**
   * Moves time 100 ms after each progress update until `call` settles. Resolves with how it
   * settled and the steps that had arrived by then. The limits below fall between steps, so
   * no timer ties with another.
   */
  async function drive(
    call: Promise<unknown>,
    steps: number[],
  ): Promise<{ result?: unknown; error?: unknown; arrived: number[] }> {
    let settled: { result?: unknown; error?: unknown; arrived: number[] } | undefined;
    void call.then(
      (result) => (settled = { result, arrived: [...steps] }),
      (error: unknown) => (settled = { error, arrived: [...steps] }),
    );
    for (let seen = 0; !settled; seen++) {
      await until(() => settled !== undefined || steps.length > seen);
      if (!settled) await vi.advanceTimersByTimeAsync(100);
    }
    return settled;
  }

  it("without resetTimeoutOnProgress, a long call times out despite its progress", async () => {
    const c = await connect();
    const steps: number[] = [];
    const call = c.callTool("progress", slow, {
      timeoutMs: 450,
      onProgress: (p) => steps.push(p.progress),
    });
    const { error, arrived } = await drive(call, steps);
    expect(error).toMatchObject({ code: "ERR_TIMEOUT" });
    // Step 5 came at 400 ms and did not move the 450 ms limit.
    expect(arrived).toEqual([1, 2, 3, 4, 5]);
  });

  it("with resetTimeoutOnProgress, progress keeps a long call alive", async () => {
    const c = await connect();
    const steps: number[] = [];
    const call = c.callTool("progress", slow, {
      timeoutMs: 450,
      resetTimeoutOnProgress: true,
      onProgress: (p) => steps.push(p.progress),
    });
    const { result, arrived } = await drive(call, steps);
    expect(result).toMatchObject({ content: [{ type: "text", text: "did 8 steps" }] });
    expect(arrived).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("maxTotalTimeoutMs bounds a call however much progress it makes", async () => {
    const c = await connect();
    const steps: number[] = [];
    const call = c.callTool("progress", slow, {
      timeoutMs: 450,
      resetTimeoutOnProgress: true,
      maxTotalTimeoutMs: 250,
      onProgress: (p) => steps.push(p.progress),
    });
    const { error, arrived } = await drive(call, steps);
    expect(error).toMatchObject({ code: "ERR_TIMEOUT" });
    expect((error as Error).message).toContain("maxTotalTimeoutMs");
    expect(arrived).toEqual([1, 2, 3]);
  });
});
