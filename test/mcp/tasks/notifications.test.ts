/**
 * Task status over `subscriptions/listen` (2026-07-28, tasks extension): the server sends
 * `notifications/tasks` with the whole DetailedTask to streams that asked for the task, only
 * to the task's owner; our client surfaces them through `watchTask` and `onTaskStatus`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpClient, type TaskInfo } from "../../../src/client/index.ts";
import { McpServer, mcpApp } from "../../../src/index.ts";
import { until } from "../../helpers/async.ts";
import { listen } from "../../helpers/http.ts";
import { AUDIENCE, startJwtIssuer } from "../../helpers/jwt.ts";
import { deferred, errorOf, ModernClient, TASKS_EXTENSION } from "./support.ts";

function server() {
  const mcp = new McpServer({ name: "notify", version: "1.0.0" });
  const gates = new Map<string, ReturnType<typeof deferred<string>>>();
  const gate = (label: string) => {
    let found = gates.get(label);
    if (!found) gates.set(label, (found = deferred<string>()));
    return found;
  };
  mcp.tool(
    "long",
    { input: z.object({ label: z.string() }), taskSupport: "required" },
    async ({ label }) => `done ${label}: ${await gate(label).promise}`,
  );
  return { mcp, gate };
}

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function watcher(url: string, token?: string) {
  const statuses: TaskInfo[] = [];
  let toolsChanged = 0;
  const client = new McpClient({
    name: "watcher",
    version: "1.0.0",
    protocolVersion: "2026-07-28",
    tasks: true,
    onTaskStatus: (task) => statuses.push(task),
    onToolsChanged: () => toolsChanged++,
  });
  const authorized: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    if (token) headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  await client.connect(url, { fetch: authorized });
  open.push(client);
  return { client, statuses, toolsChanged: () => toolsChanged };
}

describe("notifications/tasks on subscriptions/listen", () => {
  it("delivers each status change of a watched task, the result inline when it completes", async () => {
    const { mcp, gate } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const { client, statuses } = await watcher(url);
    const task = await client.startTool("long", { label: "a" });
    const taskId = task.id!;
    await client.watchTask(taskId);
    gate("a").resolve("x");
    await until(() => statuses.some((s) => s.status === "completed"));
    const done = statuses.find((s) => s.status === "completed")!;
    expect(done.taskId).toBe(taskId);
    expect(done.result).toMatchObject({ content: [{ type: "text", text: "done a: x" }] });
    expect(done.ttlMs).toBeGreaterThan(0);
  });

  it("reports a cancelled task, and stops after unwatchTask", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const { client, statuses } = await watcher(url);
    const first = (await client.startTool("long", { label: "b" })).id!;
    const second = (await client.startTool("long", { label: "c" })).id!;
    await client.watchTask(first);
    await client.watchTask(second);
    await client.cancelTask(first);
    await until(() => statuses.some((s) => s.taskId === first && s.status === "cancelled"));
    await client.unwatchTask(second);
    await client.cancelTask(second);
    // The cancel of `first` reached us; `second` was unwatched before its cancel.
    await client.watchTask(first); // a fresh acknowledgement: the stream is live again
    expect(statuses.filter((s) => s.taskId === second)).toEqual([]);
  });

  it("refuses taskIds from a client that did not declare the tasks extension (-32021)", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const bare = new ModernClient(url, { capabilities: {} });
    const refused = errorOf(
      await bare.request("subscriptions/listen", {
        notifications: { taskIds: ["a".repeat(43)] },
      }),
    );
    expect(refused.code).toBe(-32021);
    expect(refused.data).toEqual({
      requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
    });
  });

  it("sends a task's status to its owner only, though anyone may ask for any id", async () => {
    const idp = await startJwtIssuer();
    const { mcp, gate } = server();
    const app = mcpApp(mcp, {
      auth: { issuer: idp.issuer, verify: idp.verify, audience: AUDIENCE },
    });
    const url = `${await listen(app)}/mcp`;
    const alice = await watcher(url, await idp.sign({ sub: "alice", client_id: "c" }));
    const bob = await watcher(url, await idp.sign({ sub: "bob", client_id: "c" }));
    const taskId = (await alice.client.startTool("long", { label: "secret" })).id!;
    await alice.client.watchTask(taskId);
    // Acknowledged for bob as for an unknown id: the answer does not tell him it exists.
    await bob.client.watchTask(taskId);
    gate("secret").resolve("s3cr3t");
    await until(() => alice.statuses.some((s) => s.status === "completed"));
    // A later event on the same streams: once bob has it, anything before it has arrived.
    mcp.tool("late", {}, () => "ok");
    await until(() => bob.toolsChanged() > 0);
    expect(bob.statuses).toEqual([]);
  });

  it("refuses watchTask under a 2025 revision", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = new McpClient({ name: "old", version: "1.0.0", protocolVersion: "2025-11-25" });
    await client.connect(url);
    open.push(client);
    await expect(client.watchTask("a".repeat(43))).rejects.toMatchObject({
      code: "ERR_TASK_UNSUPPORTED",
    });
  });
});

describe("task events stay off 2025 sessions", () => {
  it("a 2025-11-25 session's stream hears list changes but never notifications/tasks", async () => {
    const { mcp, gate } = server();
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const seen: string[] = [];
    let toolsChanged = 0;
    const old = new McpClient({
      name: "old",
      version: "1.0.0",
      protocolVersion: "2025-11-25",
      onToolsChanged: () => toolsChanged++,
      onNotification: (notification) => seen.push(notification.method),
    });
    await old.connect(url);
    open.push(old);
    const modern = await watcher(url);
    const taskId = (await modern.client.startTool("long", { label: "d" })).id!;
    await modern.client.watchTask(taskId);
    gate("d").resolve("y");
    await until(() => modern.statuses.some((s) => s.status === "completed"));
    mcp.tool("later", {}, () => "ok");
    await until(() => toolsChanged > 0);
    expect(seen).toContain("notifications/tools/list_changed");
    expect(seen).not.toContain("notifications/tasks");
  });
});
