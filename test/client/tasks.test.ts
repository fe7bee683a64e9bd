/**
 * Tasks through the McpClient, against our own server on loopback, in both eras: the
 * experimental tasks of 2025-11-25 (sessions) and the 2026-07-28 tasks extension.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import {
  type ElicitationRequest,
  type McpClient,
  type McpClientOptions,
  McpError,
  TASKS_EXTENSION,
  TaskError,
  TransportError,
} from "../../src/client/index.ts";
import {
  type McpAppOptions,
  McpServer,
  mcpApp,
  type TaskOptions,
  ToolError,
} from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { deferred, eventually, until } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";
import { newSecret, webhookReceiver } from "../mcp/tasks/support.ts";
import {
  bodyOf,
  client,
  collect,
  type FetchCall,
  type Json,
  methodsOf,
  recordingFetch,
  serve,
} from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const TASK_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * A server whose tools wait on gates the test opens, and record what happened to them:
 * `started`, and `aborted` (their ctx.signal fired). Polling is quick, so tests are too.
 */
function taskServer(tasks: TaskOptions = {}) {
  const mcp = new McpServer({
    name: "tasks",
    version: "1.0.0",
    tasks: { pollIntervalMs: 10, ...tasks },
  });
  const gates = new Map<string, ReturnType<typeof deferred<string>>>();
  const gate = (label: string) => {
    let found = gates.get(label);
    if (!found) gates.set(label, (found = deferred<string>()));
    return found;
  };
  const started: string[] = [];
  const aborted: string[] = [];
  const wait = async (label: string, signal: AbortSignal) => {
    started.push(label);
    signal.addEventListener("abort", () => aborted.push(label));
    return `done ${label}: ${await gate(label).promise}`;
  };
  const label = z.object({ label: z.string() });
  mcp.tool("slow", { input: label, taskSupport: "optional" }, ({ label }, ctx) =>
    wait(label, ctx.signal),
  );
  mcp.tool("long", { input: label, taskSupport: "required" }, ({ label }, ctx) =>
    wait(label, ctx.signal),
  );
  mcp.tool("quick", { taskSupport: "optional" }, () => "quick done");
  mcp.tool(
    "sum",
    {
      input: z.object({ a: z.number(), b: z.number() }),
      output: z.object({ sum: z.number() }),
      taskSupport: "required",
    },
    ({ a, b }) => ({ sum: a + b }),
  );
  mcp.tool("fails", { taskSupport: "required" }, () => {
    throw new McpError(-32050, "backend down", { retry: false });
  });
  mcp.tool("broken", { taskSupport: "required" }, () => {
    throw new ToolError("disk full");
  });
  mcp.tool("confirm", { taskSupport: "optional" }, async (_args, ctx) => {
    // A task from here on in either era; the question then goes through the task.
    await ctx.startTask();
    const answer = await ctx.elicit({
      message: "Delete it?",
      schema: z.object({ confirm: z.boolean() }),
    });
    return `confirmed: ${answer.content?.confirm ?? answer.action} in ${ctx.taskId}`;
  });
  return { mcp, gate, started, aborted };
}

interface Era {
  name: string;
  modern: boolean;
  client: Partial<McpClientOptions>;
  app: McpAppOptions;
}

const LEGACY: Era = {
  name: "2025-11-25",
  modern: false,
  client: { protocolVersion: "2025-11-25" },
  app: { sessions: true },
};
const MODERN: Era = { name: "2026-07-28", modern: true, client: {}, app: {} };

/** A handler that accepts every elicitation with `content`, and records what it was asked. */
function accepting(content: Json) {
  const asked: ElicitationRequest[] = [];
  const handlers: McpClientOptions["handlers"] = {
    elicitation: (request) => {
      asked.push(request);
      return { action: "accept", content: content as Record<string, boolean> };
    },
  };
  return { asked, handlers };
}

async function connectTo(
  url: string,
  era: Era,
  options: Partial<McpClientOptions> = {},
  connect: Parameters<McpClient["connect"]>[1] = {},
) {
  const made = client({ ...era.client, ...options });
  await made.client.connect(url, connect);
  open.push(made.client);
  return made;
}

function text(result: { content: unknown[] }): string {
  return (result.content[0] as { text: string }).text;
}

/** The capabilities a recorded 2026-07-28 request declared. */
function declared(call: FetchCall): Json {
  const params = bodyOf(call).params as Json;
  return (params._meta as Json)["io.modelcontextprotocol/clientCapabilities"] as Json;
}

function toolCalls(calls: FetchCall[]): FetchCall[] {
  return calls.filter((call) => call.method === "POST" && bodyOf(call).method === "tools/call");
}

describe.each([LEGACY, MODERN])("tasks, $name", (era) => {
  async function connect(tasks: TaskOptions = {}, options: Partial<McpClientOptions> = {}) {
    const server = taskServer(tasks);
    const url = await serve(server.mcp, era.app);
    const made = await connectTo(url, era, options);
    return { ...server, url, c: made.client, warnings: made.warnings };
  }

  it("starts a task, polls it and waits for its result", async () => {
    const { c, gate, warnings } = await connect();
    expect(c.protocolVersion).toBe(era.name);
    const task = await c.startTool("long", { label: "a" }, { ttlMs: 5_000 });
    expect(task.id).toMatch(TASK_ID);
    expect(task.status).toBe("working");
    // 2026-07-28 servers choose the lifetime; a 2025-11-25 one takes the client's.
    expect(task.info?.ttlMs).toBe(era.modern ? 3_600_000 : 5_000);
    expect(task.info?.pollIntervalMs).toBe(10);
    expect(await task.poll()).toMatchObject({ taskId: task.id, status: "working" });

    gate("a").resolve("42");
    const result = await task.result();
    expect(result.content).toEqual([{ type: "text", text: "done a: 42" }]);
    expect(task.status).toBe("completed");
    expect((await c.getTask(task.id!)).status).toBe("completed");
    expect(warnings).toEqual([]);
  });

  it("returns a task's structured result, checked against the tool's outputSchema", async () => {
    const { c } = await connect();
    await collect(c.tools());
    const task = await c.startTool("sum", { a: 2, b: 40 });
    const result = await task.result();
    expect(result.structuredContent).toEqual({ sum: 42 });
  });

  it("cancels: the handler's ctx.signal aborts and waiting ends with ERR_TASK_CANCELLED", async () => {
    const { c, started, aborted } = await connect();
    const task = await c.startTool("long", { label: "c" });
    await until(() => started.includes("c"));
    const waiting = task.result().catch((error: unknown) => error);
    await c.cancelTask(task.id!);
    await until(() => aborted.includes("c"));
    const error = await waiting;
    expect(error).toBeInstanceOf(TaskError);
    expect(error).toMatchObject({ code: "ERR_TASK_CANCELLED", taskId: task.id });
    expect((await task.poll()).status).toBe("cancelled");
    await expect(task.result()).rejects.toMatchObject({ code: "ERR_TASK_CANCELLED" });
  });

  it("fails with the server's error; a tool error is a result", async () => {
    const { c } = await connect();
    const failed = await c.startTool("fails");
    const error = await failed.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    expect(error).toMatchObject({
      code: "ERR_TASK_FAILED",
      taskId: failed.id,
      status: "failed",
      rpcError: { code: -32050, message: "backend down", data: { retry: false } },
    });
    const broken = await c.startTool("broken");
    expect(await broken.result()).toMatchObject({
      isError: true,
      content: [{ type: "text", text: "disk full" }],
    });
  });

  it("answers the task's elicitation with the client's handler", async () => {
    const { asked, handlers } = accepting({ confirm: true });
    const { c } = await connect({}, { handlers });
    const task = await c.startTool("confirm");
    expect(task.id).toMatch(TASK_ID);
    const result = await task.result();
    expect(text(result)).toBe(`confirmed: true in ${task.id}`);
    expect(asked).toEqual([expect.objectContaining({ mode: "form", message: "Delete it?" })]);
  });

  it("outlives its caller: a new client takes the task up by id", async () => {
    const { mcp, gate, aborted } = taskServer();
    const url = await serve(mcp, era.app);
    const first = (await connectTo(url, era)).client;
    const task = await first.startTool("long", { label: "gone" });
    await first.close();
    gate("gone").resolve("kept");

    const second = (await connectTo(url, era)).client;
    const again = second.task(task.id!);
    expect(again.status).toBeUndefined();
    expect(text(await again.result())).toBe("done gone: kept");
    expect(again.status).toBe("completed");
    expect(aborted).toEqual([]);
  });

  it("stops waiting when its signal aborts, and leaves the task running", async () => {
    const { c, gate, started, aborted } = await connect();
    const task = await c.startTool("long", { label: "w" });
    await until(() => started.includes("w"));
    const controller = new AbortController();
    const waiting = task.result({ signal: controller.signal });
    controller.abort(new Error("enough"));
    await expect(waiting).rejects.toThrow("enough");
    gate("w").resolve("later");
    // A cancelled task would have no result: this one still ran to its end.
    expect(text(await task.result())).toBe("done w: later");
    expect(aborted).toEqual([]);
  });

  it("asks for a completion webhook, which the server signs and sends", async () => {
    const secret = newSecret();
    const receiver = await webhookReceiver(secret);
    const { c, gate } = await connect({ webhooks: { allowLoopback: true } });
    const task = await c.startTool(
      "long",
      { label: "hook" },
      { webhook: { url: receiver.url, secret } },
    );
    gate("hook").resolve("rang");
    const delivery = await receiver.next();
    expect(delivery.verified).toBe(true);
    expect(JSON.parse(delivery.body)).toMatchObject({
      type: "task.completed",
      data: { taskId: task.id, status: "completed" },
    });
  });
});

describe("tasks, 2026-07-28 only", () => {
  async function connect(
    tasks: TaskOptions = {},
    options: Partial<McpClientOptions> = {},
    recorder = recordingFetch(),
  ) {
    const server = taskServer(tasks);
    const url = await serve(server.mcp);
    const made = await connectTo(url, MODERN, options, { fetch: recorder.fetch });
    return { ...server, c: made.client, calls: recorder.calls };
  }

  it("declares the tasks extension on task requests, and on every request when configured", async () => {
    const { c, gate, calls } = await connect();
    gate("p").resolve("x");
    await c.callTool("slow", { label: "p" });
    const task = await c.startTool("long", { label: "q" });
    await task.poll();
    const [plain, started] = toolCalls(calls);
    expect(declared(plain!)).not.toHaveProperty("extensions");
    expect(declared(started!).extensions).toEqual({ [TASKS_EXTENSION]: {} });
    const poll = calls.findLast((call) => call.method === "POST");
    expect(bodyOf(poll!).method).toBe("tasks/get");
    expect(declared(poll!).extensions).toEqual({ [TASKS_EXTENSION]: {} });
    expect(poll!.headers.get("mcp-name")).toBe(task.id);

    const always = await connect({}, { tasks: true });
    always.gate("r").resolve("y");
    await always.c.callTool("slow", { label: "r" });
    expect(declared(toolCalls(always.calls)[0]!).extensions).toEqual({ [TASKS_EXTENSION]: {} });
  });

  it("gives a handle without an id when the server answers at once", async () => {
    const { c } = await connect();
    const task = await c.startTool("quick");
    expect(task.id).toBeUndefined();
    expect(task.status).toBe("completed");
    expect(text(await task.result())).toBe("quick done");
    await expect(task.poll()).rejects.toMatchObject({ name: "TaskError", code: "ERR_NO_TASK" });
    await expect(task.cancel()).resolves.toBeUndefined();
  });

  it("leaves input to update() when told not to answer it", async () => {
    const { asked, handlers } = accepting({ confirm: true });
    const { c } = await connect({}, { handlers });
    const task = await c.startTool("confirm");
    const waiting = await eventually(
      () => task.poll(),
      (info) => info.status === "input_required",
    );
    const requests = waiting.inputRequests ?? {};
    const [key] = Object.keys(requests);
    expect(requests[key!]).toMatchObject({
      method: "elicitation/create",
      params: { message: "Delete it?" },
    });
    const result = task.result({ answerInput: false });
    await task.update({ [key!]: { action: "accept", content: { confirm: false } } });
    expect(text(await result)).toBe(`confirmed: false in ${task.id}`);
    expect(asked).toEqual([]);
  });

  it("rejects with what the handler threw, and the task goes on waiting for input", async () => {
    const { c } = await connect(
      {},
      {
        handlers: {
          elicitation: () => {
            throw new Error("the user closed the dialog");
          },
        },
      },
    );
    const task = await c.startTool("confirm");
    await expect(task.result()).rejects.toThrow("the user closed the dialog");
    expect((await task.poll()).status).toBe("input_required");
  });

  it("has no tasks/list", async () => {
    const { c } = await connect();
    await expect(c.listTasks()).rejects.toMatchObject({ code: "ERR_TASK_UNSUPPORTED" });
  });

  it("without the extension configured, a required tool is refused and an optional one runs inline", async () => {
    const { c, gate, calls } = await connect({ handoffMs: 0 });
    await expect(c.callTool("long", { label: "n" })).rejects.toMatchObject({ code: -32021 });
    gate("i").resolve("inline");
    expect(text(await c.callTool("slow", { label: "i" }))).toBe("done i: inline");
    expect(methodsOf(calls)).not.toContain("tasks/get");
  });
});

describe("callTool with an unsolicited task handle (2026-07-28)", () => {
  async function connect(tasks: TaskOptions = {}, options: Partial<McpClientOptions> = {}) {
    const server = taskServer(tasks);
    const recorder = recordingFetch();
    const url = await serve(server.mcp);
    const made = await connectTo(
      url,
      MODERN,
      { tasks: true, ...options },
      {
        fetch: recorder.fetch,
      },
    );
    const polled = () => methodsOf(recorder.calls).includes("tasks/get");
    return { ...server, c: made.client, calls: recorder.calls, polled };
  }

  it("waits for a required tool's task behind the caller", async () => {
    const { c, gate, polled, calls } = await connect();
    const call = c.callTool("long", { label: "u" });
    await until(polled);
    gate("u").resolve("waited");
    expect((await call).content).toEqual([{ type: "text", text: "done u: waited" }]);
    expect(methodsOf(calls).filter((method) => method === "tools/call")).toHaveLength(1);
  });

  it("waits for an optional tool that became a task after the hand-off delay", async () => {
    const { c, gate, polled } = await connect({ handoffMs: 0 });
    const call = c.callTool("slow", { label: "h" });
    await until(polled);
    gate("h").resolve("handed off");
    expect(text(await call)).toBe("done h: handed off");
  });

  it("answers the task's input with the handlers, unseen by the caller", async () => {
    const { asked, handlers } = accepting({ confirm: true });
    const { c, calls } = await connect({}, { handlers });
    const result = await c.callTool("confirm");
    expect(text(result)).toMatch(/^confirmed: true in [A-Za-z0-9_-]{43}$/);
    expect(asked).toHaveLength(1);
    expect(methodsOf(calls)).toContain("tasks/update");
  });

  it("throws the error the call would have thrown inline", async () => {
    const { c } = await connect();
    const error = await c.callTool("fails").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: -32050, message: "backend down", data: { retry: false } });
  });

  it("cancels the task when the caller aborts", async () => {
    const { c, aborted, polled, calls } = await connect();
    const controller = new AbortController();
    const call = c.callTool("long", { label: "x" }, { signal: controller.signal });
    await until(polled);
    controller.abort(new Error("user gave up"));
    await expect(call).rejects.toThrow("user gave up");
    await until(() => aborted.includes("x"));
    expect(methodsOf(calls)).toContain("tasks/cancel");
  });

  it("gives up after maxTotalTimeoutMs with ERR_TIMEOUT, and cancels the task", async () => {
    const { c, aborted } = await connect();
    const error = await c
      .callTool("long", { label: "t" }, { maxTotalTimeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_TIMEOUT" });
    await until(() => aborted.includes("t"));
  });
});

describe("tasks, 2025-11-25 only", () => {
  async function connect(options: Partial<McpClientOptions> = {}) {
    const server = taskServer();
    const url = await serve(server.mcp, LEGACY.app);
    const made = await connectTo(url, LEGACY, options);
    return { ...server, c: made.client };
  }

  it("runs a tool listed as needing a task as one, behind callTool", async () => {
    const { c, gate } = await connect();
    // Before the listing the client cannot know: the server refuses the plain call.
    await expect(c.callTool("long", { label: "before" })).rejects.toMatchObject({
      code: -32601,
    });
    await collect(c.tools());
    const call = c.callTool("long", { label: "l" });
    gate("l").resolve("as a task");
    expect(text(await call)).toBe("done l: as a task");
  });

  it("cancels the task when the caller of callTool aborts", async () => {
    const { c, started, aborted } = await connect();
    await collect(c.tools());
    const controller = new AbortController();
    const call = c.callTool("long", { label: "k" }, { signal: controller.signal });
    await until(() => started.includes("k"));
    controller.abort(new Error("stop"));
    await expect(call).rejects.toThrow("stop");
    await until(() => aborted.includes("k"));
  });

  it("has no tasks/update: input goes through result()", async () => {
    const { c } = await connect();
    const task = await c.startTool("slow", { label: "v" });
    await expect(task.update({ k: { action: "accept" } })).rejects.toMatchObject({
      code: "ERR_TASK_UNSUPPORTED",
    });
    await task.cancel();
  });

  it("lists an authenticated caller's own tasks, page after page", async () => {
    const { mcp } = taskServer();
    const as = authorizationServer({ store: memoryStore(), login: devLogin() });
    const base = await listen(mcpApp(mcp, { sessions: true, auth: as }));
    const url = `${base}/mcp`;
    const connectAs = async (user: string) =>
      (
        await connectTo(
          url,
          LEGACY,
          {},
          {
            headers: { authorization: `Bearer ${await tokenFor(base, user)}` },
          },
        )
      ).client;
    const alice = await connectAs("alice");
    const bob = await connectAs("bob");
    const first = await alice.startTool("slow", { label: "one" });
    const second = await alice.startTool("slow", { label: "two" });
    await bob.startTool("slow", { label: "three" });
    const listed = await collect(alice.tasks());
    expect(listed.map((task) => task.taskId).sort()).toEqual([first.id, second.id].sort());
    expect(listed.every((task) => task.status === "working")).toBe(true);
    expect((await bob.listTasks()).tasks).toHaveLength(1);
    // Someone else's task reads as unknown.
    await expect(bob.getTask(first.id!)).rejects.toMatchObject({ code: -32602 });
  });
});

/** An access token for `user` from the built-in authorization server, through dev login. */
async function tokenFor(base: string, user: string): Promise<string> {
  const flow = await authorizeWithDevLogin(base, { user });
  const response = await fetch(
    `${base}/token`,
    form({
      grant_type: "authorization_code",
      code: flow.code,
      code_verifier: flow.verifier,
      client_id: flow.clientId,
      redirect_uri: flow.redirectUri,
    }),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("per-call task and capability options (2026-07-28)", () => {
  async function connect(options: Partial<McpClientOptions> = {}) {
    const server = taskServer();
    const recorder = recordingFetch();
    const url = await serve(server.mcp);
    const made = await connectTo(url, MODERN, options, { fetch: recorder.fetch });
    return { ...server, c: made.client, calls: recorder.calls };
  }

  it("declares the tasks extension for one call with `tasks`, and tells `onTask` of the task", async () => {
    const { c, gate, calls } = await connect();
    const seen: string[] = [];
    gate("t").resolve("tasked");
    const result = await c.callTool(
      "long",
      { label: "t" },
      { tasks: true, onTask: (task) => seen.push(task.taskId) },
    );
    expect(text(result)).toBe("done t: tasked");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(TASK_ID);
    expect(declared(toolCalls(calls)[0]!).extensions).toEqual({ [TASKS_EXTENSION]: {} });
    // Without it, the same client's next call declares no extension and is refused.
    await expect(c.callTool("long", { label: "n" })).rejects.toMatchObject({ code: -32021 });
    expect(declared(toolCalls(calls)[1]!)).not.toHaveProperty("extensions");
  });

  it("declares the given capabilities in place of the handlers' for one request", async () => {
    const inputKeys: unknown[] = [];
    const { c, calls } = await connect({
      handlers: {
        elicitation: (_request, extra) => {
          inputKeys.push(extra.inputKey);
          return { action: "accept", content: { confirm: true } };
        },
        sampling: () => ({ role: "assistant", model: "m", content: { type: "text", text: "" } }),
      },
    });
    const result = await c.callTool(
      "confirm",
      {},
      { tasks: true, capabilities: { elicitation: {} } },
    );
    expect(text(result)).toMatch(/^confirmed: true in /);
    expect(declared(toolCalls(calls)[0]!)).toEqual({
      elicitation: {},
      extensions: { [TASKS_EXTENSION]: {} },
    });
    // The handler learned the task's key for the question.
    expect(inputKeys).toEqual(["task-input-0"]);
    await c.callTool("quick");
    expect(declared(toolCalls(calls)[1]!)).toMatchObject({
      elicitation: { form: {} },
      sampling: {},
    });
  });
});

describe("named input inside a 2026-07-28 task", () => {
  it("keys the task's input request by the handler's name, numbered when the name is taken", async () => {
    const mcp = new McpServer({ name: "named", version: "1.0.0", tasks: { pollIntervalMs: 10 } });
    const schema = z.object({ ok: z.boolean() });
    mcp.tool("ask", { taskSupport: "required" }, async (_args, ctx) => {
      await ctx.startTask();
      const [a, b] = await Promise.all([
        ctx.elicit({ message: "a?", schema }, { key: "confirm" }),
        ctx.elicit({ message: "b?", schema }, { key: "confirm" }),
      ]);
      return `${a.action} ${b.action}`;
    });
    const made = await connectTo(await serve(mcp), MODERN, accepting({ ok: true }));
    const task = await made.client.startTool("ask");
    const waiting = await eventually(
      () => task.poll(),
      (info) => Object.keys(info.inputRequests ?? {}).length === 2,
    );
    expect(Object.keys(waiting.inputRequests ?? {}).sort()).toEqual(["confirm", "task-input-0"]);
    const result = task.result({ answerInput: false });
    await task.update({
      confirm: { action: "accept", content: { ok: true } },
      "task-input-0": { action: "decline" },
    });
    expect(text(await result)).toBe("accept decline");
  });
});
