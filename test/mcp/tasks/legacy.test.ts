import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpError, McpServer, type TaskOptions, ToolError } from "../../../src/index.ts";
import { SseReader } from "../../http/support.ts";
import {
  deferred,
  errorOf,
  type Json,
  RELATED_TASK,
  resultOf,
  SessionClient,
  start,
  until,
} from "./support.ts";

/**
 * A server whose tools wait on gates the test opens, and record what happened to them:
 * `aborted` (their signal fired) and `finished` (their handler returned).
 */
function gatedServer(tasks: TaskOptions = {}) {
  const mcp = new McpServer({ name: "tasks", version: "1.0.0", tasks });
  const gates = new Map<string, ReturnType<typeof deferred<string>>>();
  const gate = (label: string) => {
    let found = gates.get(label);
    if (!found) gates.set(label, (found = deferred<string>()));
    return found;
  };
  const aborted: string[] = [];
  const finished: string[] = [];
  mcp.tool(
    "slow",
    { input: z.object({ label: z.string() }), taskSupport: "optional" },
    async ({ label }, ctx) => {
      ctx.signal.addEventListener("abort", () => aborted.push(label));
      await ctx.progress(1, 2, "started");
      const value = await gate(label).promise;
      finished.push(label);
      return `done ${label}: ${value}`;
    },
  );
  mcp.tool("must", { taskSupport: "required" }, () => "must done");
  mcp.tool("plain", {}, () => "plain done");
  mcp.tool("fails", { taskSupport: "optional" }, () => {
    throw new McpError(-32050, "backend down", { retry: false });
  });
  mcp.tool("broken", { taskSupport: "optional" }, () => {
    throw new ToolError("disk full");
  });
  mcp.tool("asks", { taskSupport: "optional" }, async (_args, ctx) => {
    const answer = await ctx.elicit({
      message: "Your name?",
      schema: z.object({ name: z.string() }),
    });
    return `hello ${answer.content?.name ?? answer.action}`;
  });
  return { mcp, gate, aborted, finished };
}

const ELICIT = { elicitation: { form: {} } };

function taskOf(result: Json): Json & { taskId: string } {
  return result.task as Json & { taskId: string };
}

describe("2025-11-25 tasks: advertisement", () => {
  it("advertises tasks at initialize, without tasks/list for anonymous callers", async () => {
    const url = await start(gatedServer().mcp, { sessions: true });
    const client = await SessionClient.open(url);
    const capabilities = client.initializeResult.capabilities as Json;
    expect(capabilities.tasks).toEqual({ cancel: {}, requests: { tools: { call: {} } } });
    expect(capabilities.extensions).toBeUndefined();
  });

  it("publishes execution.taskSupport in tools/list only to 2025-11-25 clients", async () => {
    const url = await start(gatedServer().mcp, { sessions: true });
    const current = await SessionClient.open(url);
    const tools = resultOf(await current.request("tools/list")).tools as Json[];
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(byName.slow?.execution).toEqual({ taskSupport: "optional" });
    expect(byName.must?.execution).toEqual({ taskSupport: "required" });
    expect(byName.plain).not.toHaveProperty("execution");

    const older = await SessionClient.open(url, { version: "2025-06-18" });
    expect(older.initializeResult.capabilities).not.toHaveProperty("tasks");
    const olderTools = resultOf(await older.request("tools/list")).tools as Json[];
    expect(olderTools.every((tool) => !("execution" in tool))).toBe(true);
  });

  it("advertises nothing when no tool runs as a task, and ignores params.task then", async () => {
    const mcp = new McpServer({ name: "plain", version: "1.0.0" });
    mcp.tool("plain", {}, () => "plain done");
    const client = await SessionClient.open(await start(mcp, { sessions: true }));
    expect(client.initializeResult.capabilities).not.toHaveProperty("tasks");
    const result = resultOf(
      await client.request("tools/call", { name: "plain", arguments: {}, task: { ttl: 1000 } }),
    );
    expect(result).toMatchObject({ content: [{ type: "text", text: "plain done" }] });
    expect(result).not.toHaveProperty("task");
  });
});

describe("2025-11-25 tasks: lifecycle", () => {
  it("creates a task, reports it working, and tasks/result waits for the result", async () => {
    const { mcp, gate } = gatedServer();
    const client = await SessionClient.open(await start(mcp, { sessions: true }));
    const created = resultOf(
      await client.request("tools/call", {
        name: "slow",
        arguments: { label: "a" },
        task: { ttl: 60_000 },
      }),
    );
    const task = taskOf(created);
    expect(task.taskId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(task).toMatchObject({ status: "working", ttl: 60_000, pollInterval: 1000 });
    expect(Date.parse(String(task.createdAt))).not.toBeNaN();
    expect(Date.parse(String(task.lastUpdatedAt))).not.toBeNaN();
    expect(created).not.toHaveProperty("content");

    const got = resultOf(await client.request("tasks/get", { taskId: task.taskId }));
    expect(got).toMatchObject({ taskId: task.taskId, status: "working", ttl: 60_000 });

    const waiting = client.request("tasks/result", { taskId: task.taskId });
    // Only the gate knows "42": a result that carries it was produced after tasks/result began.
    gate("a").resolve("42");
    const result = resultOf(await waiting);
    expect(result.content).toEqual([{ type: "text", text: "done a: 42" }]);
    expect(result._meta).toEqual({ [RELATED_TASK]: { taskId: task.taskId } });

    expect(resultOf(await client.request("tasks/get", { taskId: task.taskId }))).toMatchObject({
      status: "completed",
    });
    // The result stays readable after it was read once.
    expect(resultOf(await client.request("tasks/result", { taskId: task.taskId })).content).toEqual(
      [{ type: "text", text: "done a: 42" }],
    );
  });

  it("gives 128+ bit ids that differ per task", async () => {
    const { mcp } = gatedServer();
    const client = await SessionClient.open(await start(mcp, { sessions: true }));
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const created = resultOf(
        await client.request("tools/call", { name: "must", arguments: {}, task: {} }),
      );
      ids.add(taskOf(created).taskId);
    }
    expect(ids.size).toBe(20);
    for (const id of ids) {
      // 43 base64url characters carry 256 bits.
      expect(Buffer.from(id, "base64url").length).toBe(32);
    }
  });

  it("sends notifications/tasks/status and the task's progress on the session's GET stream", async () => {
    const { mcp, gate } = gatedServer();
    const client = await SessionClient.open(await start(mcp, { sessions: true }));
    const stream = new SseReader(await client.openGet());
    const task = taskOf(
      resultOf(
        await client.request("tools/call", {
          name: "slow",
          arguments: { label: "n" },
          task: {},
          _meta: { progressToken: "p1" },
        }),
      ),
    );
    const progress = await stream.until((m) => m.method === "notifications/progress");
    expect(progress.params).toMatchObject({
      progressToken: "p1",
      progress: 1,
      total: 2,
      _meta: { [RELATED_TASK]: { taskId: task.taskId } },
    });
    gate("n").resolve("x");
    const status = await stream.until(
      (m) => m.method === "notifications/tasks/status" && (m.params as Json).status === "completed",
    );
    expect(status.params).toMatchObject({ taskId: task.taskId, ttl: task.ttl });
    await stream.cancel();
  });

  it("asks the client for input through tasks/result while the task is input_required", async () => {
    const { mcp } = gatedServer();
    const client = await SessionClient.open(await start(mcp, { sessions: true }), {
      capabilities: ELICIT,
    });
    const task = taskOf(
      resultOf(await client.request("tools/call", { name: "asks", arguments: {}, task: {} })),
    );
    await until(
      () => client.request("tasks/get", { taskId: task.taskId }),
      (reply) => (reply.body.result as Json | undefined)?.status === "input_required",
    );
    const stream = new SseReader(
      await client.post({
        jsonrpc: "2.0",
        id: "r1",
        method: "tasks/result",
        params: { taskId: task.taskId },
      }),
    );
    const request = await stream.until((m) => m.method === "elicitation/create");
    expect(request.params).toMatchObject({
      message: "Your name?",
      _meta: { [RELATED_TASK]: { taskId: task.taskId } },
    });
    const answered = await client.post({
      jsonrpc: "2.0",
      id: request.id as string,
      result: { action: "accept", content: { name: "Ada" } },
    });
    expect(answered.status).toBe(202);
    const final = await stream.until((m) => m.id === "r1");
    expect((final.result as Json).content).toEqual([{ type: "text", text: "hello Ada" }]);
    expect(resultOf(await client.request("tasks/get", { taskId: task.taskId })).status).toBe(
      "completed",
    );
  });

  it("survives its caller going away: a new session reads the result", async () => {
    const { mcp, gate, aborted } = gatedServer();
    const url = await start(mcp, { sessions: true });
    const first = await SessionClient.open(url);
    const task = taskOf(
      resultOf(
        await first.request("tools/call", { name: "slow", arguments: { label: "c" }, task: {} }),
      ),
    );
    await first.close();
    expect((await first.request("tasks/get", { taskId: task.taskId })).status).toBe(404);
    gate("c").resolve("still here");

    const second = await SessionClient.open(url);
    const result = resultOf(await second.request("tasks/result", { taskId: task.taskId }));
    expect(result.content).toEqual([{ type: "text", text: "done c: still here" }]);
    expect(aborted).not.toContain("c");
  });
});

describe("2025-11-25 tasks: outcomes", () => {
  it("reports a tool error as failed, and tasks/result returns the tool's result", async () => {
    const client = await SessionClient.open(await start(gatedServer().mcp, { sessions: true }));
    const task = taskOf(
      resultOf(await client.request("tools/call", { name: "broken", arguments: {}, task: {} })),
    );
    const result = resultOf(await client.request("tasks/result", { taskId: task.taskId }));
    expect(result).toMatchObject({ isError: true, content: [{ type: "text", text: "disk full" }] });
    expect(resultOf(await client.request("tasks/get", { taskId: task.taskId }))).toMatchObject({
      status: "failed",
      statusMessage: "disk full",
    });
  });

  it("returns the JSON-RPC error a protocol failure raised", async () => {
    const client = await SessionClient.open(await start(gatedServer().mcp, { sessions: true }));
    const task = taskOf(
      resultOf(await client.request("tools/call", { name: "fails", arguments: {}, task: {} })),
    );
    expect(errorOf(await client.request("tasks/result", { taskId: task.taskId }))).toEqual({
      code: -32050,
      message: "backend down",
      data: { retry: false },
    });
    expect(resultOf(await client.request("tasks/get", { taskId: task.taskId }))).toMatchObject({
      status: "failed",
      statusMessage: "backend down",
    });
  });
});

describe("2025-11-25 tasks: cancellation", () => {
  it("cancels a running task: its signal aborts and the status stays cancelled", async () => {
    const { mcp, gate, aborted, finished } = gatedServer();
    const client = await SessionClient.open(await start(mcp, { sessions: true }));
    const task = taskOf(
      resultOf(
        await client.request("tools/call", { name: "slow", arguments: { label: "b" }, task: {} }),
      ),
    );
    const cancelled = resultOf(await client.request("tasks/cancel", { taskId: task.taskId }));
    expect(cancelled).toMatchObject({ taskId: task.taskId, status: "cancelled" });
    expect(aborted).toEqual(["b"]);

    // The handler finishing anyway changes nothing: cancelled is terminal.
    gate("b").resolve("late");
    await until(
      async () => finished,
      (list) => list.includes("b"),
    );
    expect(resultOf(await client.request("tasks/get", { taskId: task.taskId })).status).toBe(
      "cancelled",
    );
    const noResult = errorOf(await client.request("tasks/result", { taskId: task.taskId }));
    expect(noResult.code).toBe(-32602);
    expect(noResult.message).toMatch(/cancelled/);
    const again = errorOf(await client.request("tasks/cancel", { taskId: task.taskId }));
    expect(again).toMatchObject({ code: -32602 });
    expect(again.message).toContain("'cancelled'");
  });

  it("refuses to cancel a finished task and leaves it completed", async () => {
    const client = await SessionClient.open(await start(gatedServer().mcp, { sessions: true }));
    const task = taskOf(
      resultOf(await client.request("tools/call", { name: "must", arguments: {}, task: {} })),
    );
    expect(resultOf(await client.request("tasks/result", { taskId: task.taskId })).content).toEqual(
      [{ type: "text", text: "must done" }],
    );
    const refused = errorOf(await client.request("tasks/cancel", { taskId: task.taskId }));
    expect(refused.code).toBe(-32602);
    expect(refused.message).toContain("'completed'");
    expect(resultOf(await client.request("tasks/get", { taskId: task.taskId })).status).toBe(
      "completed",
    );
  });
});

describe("2025-11-25 tasks: taskSupport", () => {
  it("refuses a task for a tool that forbids it, and a plain call to one that requires it", async () => {
    const client = await SessionClient.open(await start(gatedServer().mcp, { sessions: true }));
    const forbidden = errorOf(
      await client.request("tools/call", { name: "plain", arguments: {}, task: {} }),
    );
    expect(forbidden.code).toBe(-32601);
    const required = errorOf(await client.request("tools/call", { name: "must", arguments: {} }));
    expect(required.code).toBe(-32601);
    const optional = resultOf(
      await client.request("tools/call", { name: "broken", arguments: {} }),
    );
    expect(optional).toMatchObject({
      isError: true,
      content: [{ type: "text", text: "disk full" }],
    });
  });

  it("runs an optional tool inline for a 2025-06-18 client, task parameter or not", async () => {
    const { mcp, gate } = gatedServer();
    const client = await SessionClient.open(await start(mcp, { sessions: true }), {
      version: "2025-06-18",
    });
    gate("old").resolve("inline");
    const result = resultOf(
      await client.request("tools/call", { name: "slow", arguments: { label: "old" }, task: {} }),
    );
    expect(result.content).toEqual([{ type: "text", text: "done old: inline" }]);
    expect(errorOf(await client.request("tools/call", { name: "must", arguments: {} })).code).toBe(
      -32601,
    );
    expect(errorOf(await client.request("tasks/get", { taskId: "x".repeat(43) })).code).toBe(
      -32601,
    );
  });
});

describe("2025-11-25 tasks: lifetimes and hostile input", () => {
  it("caps the lifetime a client asks for and forgets the task after it", async () => {
    const client = await SessionClient.open(
      await start(gatedServer({ maxTtlMs: 300 }).mcp, { sessions: true }),
    );
    const task = taskOf(
      resultOf(
        await client.request("tools/call", { name: "must", arguments: {}, task: { ttl: 60_000 } }),
      ),
    );
    expect(task.ttl).toBe(300);
    expect(resultOf(await client.request("tasks/result", { taskId: task.taskId })).content).toEqual(
      [{ type: "text", text: "must done" }],
    );
    const gone = await until(
      () => client.request("tasks/get", { taskId: task.taskId }),
      (reply) => reply.body.error !== undefined,
    );
    expect(errorOf(gone).code).toBe(-32602);
  });

  it("answers unknown and malformed task ids alike, with -32602", async () => {
    const client = await SessionClient.open(await start(gatedServer().mcp, { sessions: true }));
    const unknown = "A".repeat(43);
    const errors = [];
    for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
      for (const taskId of [unknown, "../../etc", 42, "x".repeat(600)]) {
        errors.push(errorOf(await client.request(method, { taskId })));
      }
    }
    for (const error of errors) expect(error).toEqual(errors[0]);
    expect(errors[0]).toEqual({ code: -32602, message: "Failed to retrieve task: Task not found" });
  });

  it("has no tasks/update in 2025-11-25", async () => {
    const client = await SessionClient.open(await start(gatedServer().mcp, { sessions: true }));
    const error = errorOf(
      await client.request("tasks/update", { taskId: "A".repeat(43), inputResponses: {} }),
    );
    expect(error.code).toBe(-32601);
  });
});
