import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, type TaskOptions, type WebhookFailure } from "../../../src/index.ts";
import {
  deadUrl,
  deferred,
  errorOf,
  type Json,
  ModernClient,
  newSecret,
  resultOf,
  SessionClient,
  start,
  webhookReceiver,
} from "./support.ts";

const WEBHOOK = "portcullis/webhook";

function server(tasks: TaskOptions) {
  const mcp = new McpServer({ name: "hooks", version: "1.0.0", tasks });
  const gate = deferred<string>();
  const started: string[] = [];
  mcp.tool(
    "job",
    { input: z.object({ label: z.string() }), taskSupport: "optional" },
    async ({ label }) => {
      started.push(label);
      return `job ${label}: ${await gate.promise}`;
    },
  );
  mcp.tool("quick", { taskSupport: "required" }, () => "quick done");
  return { mcp, gate, started };
}

/** Loopback receivers, quick retries: what a test needs to see every attempt. */
function testHooks(onFailure?: (failure: WebhookFailure) => void): TaskOptions {
  return {
    webhooks: {
      allowLoopback: true,
      maxAttempts: 3,
      retryDelayMs: 5,
      ...(onFailure ? { onFailure } : {}),
    },
  };
}

describe("completion webhooks", () => {
  it("POSTs a signed Standard Webhooks message when the task completes", async () => {
    const secret = newSecret();
    const receiver = await webhookReceiver(secret);
    const { mcp, gate } = server(testHooks());
    const client = await SessionClient.open(await start(mcp, { sessions: true }));
    const created = resultOf(
      await client.request("tools/call", {
        name: "job",
        arguments: { label: "w" },
        task: {},
        _meta: { [WEBHOOK]: { url: receiver.url, secret } },
      }),
    );
    const taskId = (created.task as { taskId: string }).taskId;
    gate.resolve("ok");
    const delivery = await receiver.next();
    expect(delivery.verified).toBe(true);
    expect(delivery.headers["content-type"]).toBe("application/json");
    expect(String(delivery.headers["webhook-id"])).toMatch(/^msg_[0-9a-f]{32}$/);
    const sent = Number(delivery.headers["webhook-timestamp"]);
    expect(Math.abs(sent - Date.now() / 1000)).toBeLessThan(300);
    const payload = JSON.parse(delivery.body) as Json;
    expect(payload.type).toBe("task.completed");
    expect(payload.data).toMatchObject({
      taskId,
      status: "completed",
      result: { content: [{ type: "text", text: "job w: ok" }] },
    });
    expect(receiver.deliveries).toHaveLength(1);
  });

  it("retries after a 500 with the same message id, and the retry is signed too", async () => {
    const secret = newSecret();
    const receiver = await webhookReceiver(secret, [500]);
    const client = new ModernClient(await start(server(testHooks()).mcp));
    const created = resultOf(
      await client.request("tools/call", {
        name: "quick",
        arguments: {},
        _meta: { [WEBHOOK]: { url: receiver.url, secret } },
      }),
    );
    expect(created.resultType).toBe("task");
    const failed = await receiver.next();
    const retried = await receiver.next();
    expect(failed.verified).toBe(true);
    expect(retried.verified).toBe(true);
    expect(retried.headers["webhook-id"]).toBe(failed.headers["webhook-id"]);
    expect(JSON.parse(retried.body)).toMatchObject({
      type: "task.completed",
      data: { taskId: created.taskId, result: { content: [{ text: "quick done" }] } },
    });
    expect(receiver.deliveries).toHaveLength(2);
  });

  it("gives up on an unreachable webhook after bounded attempts; the result stays pollable", async () => {
    const gaveUp = deferred<WebhookFailure>();
    const url = await deadUrl();
    const { mcp, gate } = server(testHooks((failure) => gaveUp.resolve(failure)));
    const client = await SessionClient.open(await start(mcp, { sessions: true }));
    const created = resultOf(
      await client.request("tools/call", {
        name: "job",
        arguments: { label: "u" },
        task: {},
        _meta: { [WEBHOOK]: { url, secret: newSecret() } },
      }),
    );
    const taskId = (created.task as { taskId: string }).taskId;
    gate.resolve("kept");
    const failure = await gaveUp.promise;
    expect(failure).toMatchObject({ taskId, url, attempts: 3 });
    const result = resultOf(await client.request("tasks/result", { taskId }));
    expect(result.content).toEqual([{ type: "text", text: "job u: kept" }]);
  });

  it("gives up on a receiver that keeps failing, without losing the result", async () => {
    const secret = newSecret();
    const receiver = await webhookReceiver(secret, [500, 503, 502]);
    const gaveUp = deferred<WebhookFailure>();
    const client = new ModernClient(
      await start(server(testHooks((failure) => gaveUp.resolve(failure))).mcp),
    );
    const created = resultOf(
      await client.request("tools/call", {
        name: "quick",
        arguments: {},
        _meta: { [WEBHOOK]: { url: receiver.url, secret } },
      }),
    );
    expect(await gaveUp.promise).toMatchObject({ attempts: 3, reason: "answered 502" });
    expect(receiver.deliveries).toHaveLength(3);
    const done = await client.waitFor(created.taskId as string, "completed");
    expect(done.result).toMatchObject({ content: [{ text: "quick done" }] });
  });

  it("refuses webhook URLs that are not public https, and malformed secrets, before any work", async () => {
    const strict = server({});
    const client = await SessionClient.open(await start(strict.mcp, { sessions: true }));
    const refused = async (webhook: unknown) =>
      errorOf(
        await client.request("tools/call", {
          name: "job",
          arguments: { label: "x" },
          task: {},
          _meta: { [WEBHOOK]: webhook },
        }),
      );
    const secret = newSecret();
    for (const url of [
      "http://127.0.0.1:9/hook",
      "https://127.0.0.1/hook",
      "https://10.0.0.8/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/hook",
      "https://metadata.internal/hook",
      "https://user:pass@example.com/hook",
      "ftp://example.com/hook",
      "not a url",
    ]) {
      const error = await refused({ url, secret });
      expect(error.code, url).toBe(-32602);
      expect(error.message).toMatch(/^Invalid webhook/);
    }
    for (const bad of ["plain", "whsec_", "whsec_c2hvcnQ=", `whsec_${"!".repeat(40)}`, 42]) {
      expect((await refused({ url: "https://example.com/hook", secret: bad })).code).toBe(-32602);
    }
    expect((await refused("https://example.com/hook")).code).toBe(-32602);
    // Refused before any work: no handler ran for the refused calls.
    expect(strict.started).toEqual([]);
    const ok = resultOf(
      await client.request("tools/call", { name: "job", arguments: { label: "ok" }, task: {} }),
    );
    expect(ok.task).toMatchObject({ status: "working" });
  });

  it("refuses webhooks altogether when the server turns them off", async () => {
    const client = new ModernClient(await start(server({ webhooks: false }).mcp));
    const error = errorOf(
      await client.request("tools/call", {
        name: "quick",
        arguments: {},
        _meta: { [WEBHOOK]: { url: "https://example.com/hook", secret: newSecret() } },
      }),
    );
    expect(error.code).toBe(-32602);
  });

  it("tells the receiver about a cancelled task", async () => {
    const secret = newSecret();
    const receiver = await webhookReceiver(secret);
    const client = await SessionClient.open(
      await start(server(testHooks()).mcp, { sessions: true }),
    );
    const created = resultOf(
      await client.request("tools/call", {
        name: "job",
        arguments: { label: "c" },
        task: {},
        _meta: { [WEBHOOK]: { url: receiver.url, secret } },
      }),
    );
    const taskId = (created.task as { taskId: string }).taskId;
    await client.request("tasks/cancel", { taskId });
    const delivery = await receiver.next();
    expect(delivery.verified).toBe(true);
    expect(JSON.parse(delivery.body)).toMatchObject({
      type: "task.cancelled",
      data: { taskId, status: "cancelled" },
    });
  });
});
