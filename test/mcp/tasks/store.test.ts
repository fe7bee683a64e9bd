import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, type TaskRecord, TaskStore } from "../../../src/index.ts";
import { memoryStore } from "../../../src/storage/index.ts";
import {
  deferred,
  errorOf,
  eventually,
  type Json,
  ModernClient,
  resultOf,
  SessionClient,
  start,
} from "./support.ts";

function record(overrides: Partial<TaskRecord> = {}): TaskRecord {
  const now = Date.now();
  return {
    taskId: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"),
    owner: "alice",
    flavor: "extension",
    status: "working",
    createdAt: now,
    updatedAt: now,
    ttlMs: 60_000,
    pollIntervalMs: 1000,
    ...overrides,
  };
}

describe("TaskStore", () => {
  it("never changes a terminal task, whatever a writer asks", async () => {
    const store = new TaskStore(memoryStore());
    const task = record();
    await store.create(task);
    const done = await store.update(task.taskId, (current) => ({
      ...current,
      status: "completed",
      result: { content: [] },
    }));
    expect(done).toMatchObject({ changed: true, record: { status: "completed" } });
    for (const status of ["working", "input_required", "failed", "cancelled"] as const) {
      const again = await store.update(task.taskId, (current) => ({ ...current, status }));
      expect(again).toMatchObject({ changed: false, record: { status: "completed" } });
    }
    expect((await store.get(task.taskId, "alice"))?.status).toBe("completed");
  });

  it("loses no change when many writers race on one task", async () => {
    const store = new TaskStore(memoryStore());
    const task = record();
    await store.create(task);
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        store.update(task.taskId, (current) => ({
          ...current,
          status: "input_required",
          inputRequests: { ...current.inputRequests, [`k${i}`]: { method: "m", params: {} } },
        })),
      ),
    );
    const after = await store.get(task.taskId, "alice");
    expect(Object.keys(after?.inputRequests ?? {}).sort()).toEqual(
      Array.from({ length: 25 }, (_, i) => `k${i}`).sort(),
    );
  });

  it("lets exactly one of two racing terminal writes win", async () => {
    const store = new TaskStore(memoryStore());
    const task = record();
    await store.create(task);
    const [a, b] = await Promise.all([
      store.update(task.taskId, (current) => ({ ...current, status: "cancelled" })),
      store.update(task.taskId, (current) => ({ ...current, status: "completed" })),
    ]);
    expect([a?.changed, b?.changed].filter(Boolean)).toHaveLength(1);
    const winner = a?.changed ? "cancelled" : "completed";
    expect((await store.get(task.taskId, "alice"))?.status).toBe(winner);
  });

  it("shows a task to its owner only, and nothing for ids that are not ours", async () => {
    const store = new TaskStore(memoryStore());
    const task = record();
    await store.create(task);
    expect(await store.get(task.taskId, "alice")).toMatchObject({ taskId: task.taskId });
    expect(await store.get(task.taskId, "bob")).toBeUndefined();
    expect(await store.get(task.taskId, "")).toBeUndefined();
    expect(await store.get(`${task.taskId}x`, "alice")).toBeUndefined();
    expect(await store.get({ taskId: task.taskId }, "alice")).toBeUndefined();
  });

  it("keeps a task for its TTL and then forgets it", async () => {
    const store = new TaskStore(memoryStore());
    const task = record({ ttlMs: 100 });
    await store.create(task);
    expect(await store.get(task.taskId, "alice")).toBeDefined();
    await eventually(
      () => store.get(task.taskId, "alice"),
      (found) => found === undefined,
    );
    expect(await store.update(task.taskId, (current) => current)).toBeUndefined();
  });

  it("refuses tasks beyond the per-caller limit", async () => {
    const store = new TaskStore(memoryStore(), { maxTasksPerCaller: 2 });
    await store.create(record());
    await store.create(record());
    await expect(store.create(record())).rejects.toMatchObject({ code: -32600 });
    await store.create(record({ owner: "bob" }));
  });
});

describe("tasks across instances sharing one Store", () => {
  function instance(store: ReturnType<typeof memoryStore>) {
    const mcp = new McpServer({
      name: "shared",
      version: "1.0.0",
      tasks: { store, pollIntervalMs: 20 },
    });
    const gate = deferred<string>();
    const aborted: string[] = [];
    mcp.tool(
      "slow",
      { input: z.object({ label: z.string() }), taskSupport: "required" },
      async ({ label }, ctx) => {
        ctx.signal.addEventListener("abort", () => aborted.push(label));
        return `done ${label}: ${await gate.promise}`;
      },
    );
    mcp.tool("confirm", { taskSupport: "required" }, async (_args, ctx) => {
      await ctx.startTask();
      const answer = await ctx.elicit({ message: "Ok?", schema: z.object({ ok: z.boolean() }) });
      return `ok: ${answer.content?.ok}`;
    });
    return { mcp, gate, aborted };
  }

  it("reads, answers and cancels on one instance a task that runs on another", async () => {
    const store = memoryStore();
    const a = instance(store);
    const b = instance(store);
    const capabilities = {
      elicitation: { form: {} },
      extensions: { "io.modelcontextprotocol/tasks": {} },
    };
    const onA = new ModernClient(await start(a.mcp), { capabilities });
    const onB = new ModernClient(await start(b.mcp), { capabilities });

    // Input taken by B reaches the handler running on A.
    const asking = resultOf(await onA.request("tools/call", { name: "confirm", arguments: {} }));
    const waiting = await onB.waitFor(asking.taskId as string, "input_required");
    const key = Object.keys(waiting.inputRequests as Json)[0]!;
    await onB.request("tasks/update", {
      taskId: asking.taskId,
      inputResponses: { [key]: { action: "accept", content: { ok: true } } },
    });
    const answered = await onB.waitFor(asking.taskId as string, "completed");
    expect(answered.result).toMatchObject({ content: [{ text: "ok: true" }] });

    // A cancel taken by B reaches the signal of the handler running on A.
    const running = resultOf(
      await onA.request("tools/call", { name: "slow", arguments: { label: "x" } }),
    );
    expect(resultOf(await onB.request("tasks/cancel", { taskId: running.taskId })).resultType).toBe(
      "complete",
    );
    await eventually(
      async () => a.aborted,
      (list) => list.includes("x"),
    );
    expect(resultOf(await onA.request("tasks/get", { taskId: running.taskId })).status).toBe(
      "cancelled",
    );
  });

  it("lets tasks/result on one instance wait for a task running on another", async () => {
    const store = memoryStore();
    const a = instance(store);
    const b = instance(store);
    const onA = await SessionClient.open(await start(a.mcp, { sessions: true }));
    const onB = await SessionClient.open(await start(b.mcp, { sessions: true }));
    const created = resultOf(
      await onA.request("tools/call", { name: "slow", arguments: { label: "r" }, task: {} }),
    );
    const taskId = (created.task as { taskId: string }).taskId;
    const waiting = onB.request("tasks/result", { taskId });
    a.gate.resolve("from A");
    expect(resultOf(await waiting).content).toEqual([{ type: "text", text: "done r: from A" }]);
    expect(errorOf(await onB.request("tasks/result", { taskId: "Q".repeat(43) })).code).toBe(
      -32602,
    );
  });
});
