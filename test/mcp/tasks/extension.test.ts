import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpError, McpServer, type TaskOptions, ToolError } from "../../../src/index.ts";
import {
  deferred,
  errorOf,
  type Json,
  ModernClient,
  RELATED_TASK,
  resultOf,
  start,
  TASKS_EXTENSION,
  until,
} from "./support.ts";

function gatedServer(tasks: TaskOptions = {}) {
  const mcp = new McpServer({ name: "tasks", version: "1.0.0", tasks });
  const gates = new Map<string, ReturnType<typeof deferred<string>>>();
  const gate = (label: string) => {
    let found = gates.get(label);
    if (!found) gates.set(label, (found = deferred<string>()));
    return found;
  };
  const started: string[] = [];
  const aborted: string[] = [];
  const finished: string[] = [];
  const label = { input: z.object({ label: z.string() }) };
  const wait = async (name: string, signal: AbortSignal) => {
    started.push(name);
    signal.addEventListener("abort", () => aborted.push(name));
    const value = await gate(name).promise;
    finished.push(name);
    return `done ${name}: ${value}`;
  };
  mcp.tool("slow", { ...label, taskSupport: "optional" }, ({ label }, ctx) =>
    wait(label, ctx.signal),
  );
  mcp.tool("long", { ...label, taskSupport: "required" }, ({ label }, ctx) =>
    wait(label, ctx.signal),
  );
  mcp.tool("must", { taskSupport: "required" }, () => "must done");
  mcp.tool("plain", {}, () => "plain done");
  mcp.tool("fails", { taskSupport: "required" }, () => {
    throw new McpError(-32050, "backend down", { retry: false });
  });
  mcp.tool("broken", { taskSupport: "required" }, () => {
    throw new ToolError("disk full");
  });
  mcp.tool("name_then_task", { taskSupport: "required" }, async (_args, ctx) => {
    // Gathered before the task exists: a multi round-trip round on the tools/call itself.
    const answer = await ctx.elicit({
      message: "What is your name?",
      schema: z.object({ name: z.string() }),
    });
    await ctx.startTask();
    return wait(`hello ${answer.content?.name}`, ctx.signal);
  });
  mcp.tool("confirm", { taskSupport: "optional" }, async (_args, ctx) => {
    await ctx.startTask();
    const answer = await ctx.elicit({
      message: "Delete it?",
      schema: z.object({ confirm: z.boolean() }),
    });
    return `confirmed: ${answer.content?.confirm ?? answer.action} in ${ctx.taskId}`;
  });
  mcp.tool("two_inputs", { taskSupport: "optional" }, async (_args, ctx) => {
    await ctx.startTask();
    const [first, second] = await Promise.all([
      ctx.elicit({ message: "First?", schema: z.object({ name: z.string() }) }),
      ctx.elicit({ message: "Second?", schema: z.object({ name: z.string() }) }),
    ]);
    return `got ${first.content?.name} and ${second.content?.name}`;
  });
  return { mcp, gate, started, aborted, finished };
}

const NO_TASKS = { capabilities: { elicitation: { form: {} } } };
const WITH_TASKS = {
  capabilities: { elicitation: { form: {} }, extensions: { [TASKS_EXTENSION]: {} } },
};

function taskIdOf(result: Json): string {
  expect(result.resultType).toBe("task");
  return result.taskId as string;
}

describe("2026-07-28 tasks extension: advertisement", () => {
  it("advertises the extension in server/discover, not the 2025 tasks capability", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    const discovered = resultOf(await client.request("server/discover"));
    const capabilities = discovered.capabilities as Json;
    expect(capabilities.extensions).toEqual({ [TASKS_EXTENSION]: {} });
    expect(capabilities).not.toHaveProperty("tasks");
    const tools = resultOf(await client.request("tools/list")).tools as Json[];
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.every((tool) => !("execution" in tool))).toBe(true);
  });
});

describe("2026-07-28 tasks extension: creation and polling", () => {
  it("answers a required tool with a task handle, then inlines the result in tasks/get", async () => {
    const { mcp, gate } = gatedServer();
    const client = new ModernClient(await start(mcp));
    const created = resultOf(
      await client.request("tools/call", { name: "long", arguments: { label: "a" } }),
    );
    const taskId = taskIdOf(created);
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ status: "working", ttlMs: 3_600_000, pollIntervalMs: 1000 });
    for (const absent of [
      "ttl",
      "pollInterval",
      "requestState",
      "task",
      "content",
      "inputRequests",
    ]) {
      expect(created).not.toHaveProperty(absent);
    }

    const working = resultOf(await client.request("tasks/get", { taskId }));
    expect(working).toMatchObject({ resultType: "complete", taskId, status: "working" });
    expect(working).not.toHaveProperty("result");
    expect(working).not.toHaveProperty("error");

    gate("a").resolve("42");
    const done = await client.waitFor(taskId, "completed");
    expect(done.result).toMatchObject({ content: [{ type: "text", text: "done a: 42" }] });
    expect(done.result).not.toHaveProperty(["_meta", RELATED_TASK]);
  });

  it("still answers with a task when a required tool finishes at once", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    const created = resultOf(await client.request("tools/call", { name: "must", arguments: {} }));
    const taskId = taskIdOf(created);
    const done = await client.waitFor(taskId, "completed");
    expect(done.result).toMatchObject({ content: [{ type: "text", text: "must done" }] });
  });

  it("runs an optional tool inline when it is quick, and as a task when it is not", async () => {
    const quick = gatedServer();
    quick.gate("q").resolve("fast");
    const client = new ModernClient(await start(quick.mcp));
    const inline = resultOf(
      await client.request("tools/call", { name: "slow", arguments: { label: "q" } }),
    );
    expect(inline).toMatchObject({
      resultType: "complete",
      content: [{ type: "text", text: "done q: fast" }],
    });

    const slow = gatedServer({ handoffMs: 0 });
    const other = new ModernClient(await start(slow.mcp));
    const created = resultOf(
      await other.request("tools/call", { name: "slow", arguments: { label: "s" } }),
    );
    const taskId = taskIdOf(created);
    slow.gate("s").resolve("later");
    expect((await other.waitFor(taskId, "completed")).result).toMatchObject({
      content: [{ type: "text", text: "done s: later" }],
    });
  });

  it("needs the extension for required tools (-32021) and runs optional ones inline without it", async () => {
    const { mcp, gate } = gatedServer({ handoffMs: 0 });
    const client = new ModernClient(await start(mcp), NO_TASKS);
    const refused = await client.request("tools/call", { name: "long", arguments: { label: "r" } });
    expect(refused.status).toBe(400);
    expect(errorOf(refused)).toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    });
    gate("o").resolve("inline");
    const inline = resultOf(
      await client.request("tools/call", { name: "slow", arguments: { label: "o" } }),
    );
    expect(inline).toMatchObject({ resultType: "complete", content: [{ text: "done o: inline" }] });
  });

  it("tolerates the 2025 task parameter without making a plain tool a task", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    const result = resultOf(
      await client.request("tools/call", { name: "plain", arguments: {}, task: { ttl: 1000 } }),
    );
    expect(result).toMatchObject({ resultType: "complete", content: [{ text: "plain done" }] });
  });

  it("survives its caller going away: another client polls the result", async () => {
    const { mcp, gate, aborted } = gatedServer();
    const url = await start(mcp);
    const first = new ModernClient(url, { name: "first" });
    const taskId = taskIdOf(
      resultOf(await first.request("tools/call", { name: "long", arguments: { label: "gone" } })),
    );
    gate("gone").resolve("kept");
    const second = new ModernClient(url, { name: "second" });
    const done = await second.waitFor(taskId, "completed");
    expect(done.result).toMatchObject({ content: [{ text: "done gone: kept" }] });
    expect(aborted).not.toContain("gone");
  });
});

describe("2026-07-28 tasks extension: input", () => {
  it("gathers input by multi round-trip first, then hands off to a task", async () => {
    const { mcp, gate } = gatedServer();
    const client = new ModernClient(await start(mcp), WITH_TASKS);
    const round1 = resultOf(
      await client.request("tools/call", { name: "name_then_task", arguments: {} }),
    );
    expect(round1.resultType).toBe("input_required");
    expect(round1).not.toHaveProperty("taskId");
    const key = Object.keys(round1.inputRequests as Json)[0]!;
    const round2 = resultOf(
      await client.request("tools/call", {
        name: "name_then_task",
        arguments: {},
        inputResponses: { [key]: { action: "accept", content: { name: "Alice" } } },
        requestState: round1.requestState,
      }),
    );
    const taskId = taskIdOf(round2);
    expect(round2).not.toHaveProperty("requestState");
    expect(round2).not.toHaveProperty("inputRequests");
    gate("hello Alice").resolve("ok");
    expect((await client.waitFor(taskId, "completed")).result).toMatchObject({
      content: [{ text: "done hello Alice: ok" }],
    });
  });

  it("asks for input while a task: input_required, then tasks/update resumes it", async () => {
    const client = new ModernClient(await start(gatedServer().mcp), WITH_TASKS);
    const taskId = taskIdOf(
      resultOf(await client.request("tools/call", { name: "confirm", arguments: {} })),
    );
    const waiting = await client.waitFor(taskId, "input_required");
    const requests = waiting.inputRequests as Record<string, Json>;
    const [key] = Object.keys(requests);
    expect(requests[key!]).toMatchObject({
      method: "elicitation/create",
      params: { message: "Delete it?", mode: "form" },
    });

    const ignored = resultOf(
      await client.request("tasks/update", {
        taskId,
        inputResponses: { "no-such-key": { action: "accept", content: { confirm: false } } },
      }),
    );
    expect(ignored.resultType).toBe("complete");
    expect(resultOf(await client.request("tasks/get", { taskId })).status).toBe("input_required");

    const ack = resultOf(
      await client.request("tasks/update", {
        taskId,
        inputResponses: { [key!]: { action: "accept", content: { confirm: true } } },
      }),
    );
    expect(ack.resultType).toBe("complete");
    for (const field of ["taskId", "status", "result", "error", "inputRequests"]) {
      expect(ack).not.toHaveProperty(field);
    }
    const done = await client.waitFor(taskId, "completed");
    expect(done.result).toMatchObject({ content: [{ text: `confirmed: true in ${taskId}` }] });
  });

  it("takes answers one at a time, keeping only the unanswered request outstanding", async () => {
    const client = new ModernClient(await start(gatedServer().mcp), WITH_TASKS);
    const taskId = taskIdOf(
      resultOf(await client.request("tools/call", { name: "two_inputs", arguments: {} })),
    );
    const both = resultOf(
      await until(
        () => client.request("tasks/get", { taskId }),
        (reply) =>
          Object.keys(((reply.body.result as Json).inputRequests as Json) ?? {}).length === 2,
      ),
    );
    const [first, second] = Object.keys(both.inputRequests as Json);
    await client.request("tasks/update", {
      taskId,
      inputResponses: { [first!]: { action: "accept", content: { name: "A" } } },
    });
    const partial = resultOf(await client.request("tasks/get", { taskId }));
    expect(partial.status).toBe("input_required");
    expect(Object.keys(partial.inputRequests as Json)).toEqual([second]);
    await client.request("tasks/update", {
      taskId,
      inputResponses: { [second!]: { action: "accept", content: { name: "B" } } },
    });
    expect((await client.waitFor(taskId, "completed")).result).toMatchObject({
      content: [{ text: "got A and B" }],
    });
  });
});

describe("2026-07-28 tasks extension: outcomes and cancellation", () => {
  it("reports a protocol error as failed with the error, a tool error as completed", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    const failed = await client.waitFor(
      taskIdOf(resultOf(await client.request("tools/call", { name: "fails", arguments: {} }))),
      "failed",
    );
    expect(failed.error).toEqual({ code: -32050, message: "backend down", data: { retry: false } });
    expect(failed).not.toHaveProperty("result");

    const completed = await client.waitFor(
      taskIdOf(resultOf(await client.request("tools/call", { name: "broken", arguments: {} }))),
      "completed",
    );
    expect(completed.result).toMatchObject({ isError: true, content: [{ text: "disk full" }] });
  });

  it("acknowledges tasks/cancel, aborts the handler and keeps the task cancelled", async () => {
    const { mcp, gate, aborted, finished } = gatedServer();
    const client = new ModernClient(await start(mcp));
    const taskId = taskIdOf(
      resultOf(await client.request("tools/call", { name: "long", arguments: { label: "c" } })),
    );
    const ack = resultOf(await client.request("tasks/cancel", { taskId }));
    expect(ack).toMatchObject({ resultType: "complete" });
    expect(ack).not.toHaveProperty("status");
    expect(aborted).toEqual(["c"]);
    expect(resultOf(await client.request("tasks/get", { taskId })).status).toBe("cancelled");

    gate("c").resolve("late");
    await until(
      async () => finished,
      (list) => list.includes("c"),
    );
    expect(resultOf(await client.request("tasks/cancel", { taskId })).resultType).toBe("complete");
    const after = resultOf(await client.request("tasks/get", { taskId }));
    expect(after.status).toBe("cancelled");
    expect(after).not.toHaveProperty("result");
  });

  it("acknowledges cancelling a finished task and leaves it completed", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    const taskId = taskIdOf(
      resultOf(await client.request("tools/call", { name: "must", arguments: {} })),
    );
    await client.waitFor(taskId, "completed");
    expect(resultOf(await client.request("tasks/cancel", { taskId })).resultType).toBe("complete");
    const after = resultOf(await client.request("tasks/get", { taskId }));
    expect(after.status).toBe("completed");
    expect(after.result).toMatchObject({ content: [{ text: "must done" }] });
  });

  it("cancels the inline phase when the client closes the connection", async () => {
    const { mcp, started, aborted } = gatedServer({ handoffMs: 60_000 });
    const client = new ModernClient(await start(mcp));
    const controller = new AbortController();
    const call = fetch(client.url, {
      method: "POST",
      signal: controller.signal,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "slow",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          name: "slow",
          arguments: { label: "cut" },
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": WITH_TASKS.capabilities,
          },
        },
      }),
    }).catch(() => undefined);
    await until(
      async () => started,
      (list) => list.includes("cut"),
    );
    expect(aborted).toEqual([]);
    controller.abort();
    await call;
    await until(
      async () => aborted,
      (list) => list.includes("cut"),
    );
  });
});

describe("2026-07-28 tasks extension: hostile input", () => {
  it("has no tasks/result and no tasks/list", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    for (const method of ["tasks/result", "tasks/list"]) {
      const reply = await client.request(method, { taskId: "A".repeat(43) });
      expect(reply.status).toBe(404);
      expect(errorOf(reply).code).toBe(-32601);
    }
  });

  it("refuses tasks methods to a client that did not declare the extension", async () => {
    const { mcp } = gatedServer();
    const url = await start(mcp);
    const taskId = taskIdOf(
      resultOf(await new ModernClient(url).request("tools/call", { name: "must", arguments: {} })),
    );
    const without = new ModernClient(url, NO_TASKS);
    for (const [method, params] of [
      ["tasks/get", { taskId }],
      ["tasks/update", { taskId, inputResponses: {} }],
      ["tasks/cancel", { taskId }],
    ] as const) {
      const reply = await without.request(method, params);
      expect(reply.status).toBe(400);
      expect(errorOf(reply).code).toBe(-32021);
    }
  });

  it("requires Mcp-Name to carry the task id", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    const taskId = taskIdOf(
      resultOf(await client.request("tools/call", { name: "must", arguments: {} })),
    );
    const missing = await client.request("tasks/get", { taskId }, { "mcp-name": undefined });
    expect(missing.status).toBe(400);
    expect(errorOf(missing).code).toBe(-32020);
    const other = await client.request("tasks/cancel", { taskId }, { "mcp-name": "B".repeat(43) });
    expect(other.status).toBe(400);
    expect(errorOf(other).code).toBe(-32020);
    // The refused cancel changed nothing.
    expect(resultOf(await client.request("tasks/get", { taskId })).status).toBe("completed");
  });

  it("answers unknown and malformed task ids with -32602", async () => {
    const client = new ModernClient(await start(gatedServer().mcp));
    for (const method of ["tasks/get", "tasks/cancel", "tasks/update"]) {
      for (const taskId of ["A".repeat(43), "tasks-conformance-nonexistent-12345"]) {
        const error = errorOf(await client.request(method, { taskId, inputResponses: {} }));
        expect(error).toEqual({ code: -32602, message: "Failed to retrieve task: Task not found" });
      }
    }
  });

  it("refuses oversized or malformed inputResponses and leaves the task waiting", async () => {
    const client = new ModernClient(await start(gatedServer().mcp), WITH_TASKS);
    const taskId = taskIdOf(
      resultOf(await client.request("tools/call", { name: "confirm", arguments: {} })),
    );
    const waiting = await client.waitFor(taskId, "input_required");
    const key = Object.keys(waiting.inputRequests as Json)[0]!;
    const huge = await client.request("tasks/update", {
      taskId,
      inputResponses: { [key]: { action: "accept", content: { confirm: "x".repeat(300_000) } } },
    });
    expect(errorOf(huge).code).toBe(-32602);
    const malformed = await client.request("tasks/update", { taskId, inputResponses: [1, 2] });
    expect(errorOf(malformed).code).toBe(-32602);
    const still = resultOf(await client.request("tasks/get", { taskId }));
    expect(still.status).toBe("input_required");
    expect(Object.keys(still.inputRequests as Json)).toEqual([key]);
  });
});
