/**
 * Webhook delivery end to end: a tool registered with `delivery: "webhook"` on a real server,
 * an McpClient whose `webhookInbox` is served on loopback, and the signed result travelling
 * between them. The server's task machinery is the only way the result is kept; polling is the
 * fallback the tests reach by taking the receiver away.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { McpClient } from "../../src/client/index.ts";
import {
  McpError,
  McpServer,
  signWebhook,
  type WebhookFailure,
  type WebhookRetry,
} from "../../src/index.ts";
import { webhookInbox } from "../../src/queue/index.ts";
import { fromBase64 } from "../../src/util/bytes.ts";
import { deferred, until } from "../helpers/async.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import {
  deadUrl,
  errorOf,
  type Json,
  ModernClient,
  newSecret,
  resultOf,
  start,
  webhookReceiver,
} from "../mcp/tasks/support.ts";

const WEBHOOK = "portcullis/webhook";

afterEach(() => {
  vi.useRealTimers();
});

/** A server with one webhook-delivered tool the test releases, and a count of methods seen. */
function server(webhooks: Json = { allowLoopback: true, maxAttempts: 1 }, clock?: () => number) {
  const mcp = new McpServer({
    name: "hooks",
    version: "1.0.0",
    tasks: { webhooks },
    ...(clock ? { clock } : {}),
  });
  const gate = deferred<string>();
  const started: string[] = [];
  const methods: string[] = [];
  mcp.use(async (ctx, next) => {
    methods.push(ctx.method);
    return next();
  });
  mcp.tool(
    "report",
    { input: z.object({ topic: z.string() }), delivery: "webhook" },
    async ({ topic }) => {
      started.push(topic);
      return `report on ${topic}: ${await gate.promise}`;
    },
  );
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
  return { mcp, gate, started, methods };
}

interface Recorded {
  url: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

/** An inbox served on loopback, with every POST it was sent recorded (to replay one). */
async function inboxOnLoopback(options: { fallbackPollMs?: number; url?: string } = {}) {
  const app = new Hono();
  const recorded: Recorded[] = [];
  const base = await listen(app);
  const inbox = webhookInbox({ url: options.url ?? `${base}/hooks`, ...options });
  app.use("/hooks/*", async (c, next) => {
    const copy = c.req.raw.clone();
    const headers = Object.fromEntries(
      [...copy.headers].filter(([name]) => name.startsWith("webhook-")),
    );
    const entry = { url: c.req.url, headers, body: await copy.text(), status: 0 };
    recorded.push(entry);
    await next();
    entry.status = c.res.status;
  });
  app.route("/hooks", inbox.app);
  return { inbox, recorded };
}

/** An McpClient with the inbox, and the webhook addresses it gave the server. */
async function clientOf(
  url: string,
  deliveries: ReturnType<typeof webhookInbox>,
  protocolVersion = "auto",
) {
  const client = new McpClient({ name: "agent", version: "1.0.0", deliveries, protocolVersion });
  const given: Array<{ url: string; secret: string }> = [];
  const answered: string[] = [];
  client.use(async (request, next) => {
    const hook = (request.params._meta as Json | undefined)?.[WEBHOOK];
    if (hook) given.push(hook as { url: string; secret: string });
    const result = await next();
    answered.push(request.method);
    return result;
  });
  await client.connect(url);
  return { client, given, answered };
}

/** A Standard Webhooks POST made by the test, signed with `secret`. */
async function post(
  url: string,
  secret: string,
  payload: Json,
  options: { id?: string; timestamp?: number } = {},
): Promise<Response> {
  const id = options.id ?? `msg_${crypto.randomUUID()}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const body = JSON.stringify(payload);
  const signature = await signWebhook(fromBase64(secret.slice(6)), id, timestamp, body);
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature,
    },
    body,
  });
}

/** The server names its messages msg_ and 32 hex digits; the test's own have dashes. */
const isServers = (entry: Recorded) => /^msg_[0-9a-f]{32}$/.test(entry.headers["webhook-id"] ?? "");

const completed = (taskId: string, text: string): Json => ({
  type: "task.completed",
  data: { taskId, status: "completed", result: { content: [{ type: "text", text }] } },
});

describe("delivery: webhook", () => {
  for (const version of ["auto", "2025-11-25"]) {
    it(`answers with a task and resolves callTool with the signed delivery (${version})`, async () => {
      const { mcp, gate, methods } = server();
      const { inbox, recorded } = await inboxOnLoopback();
      const { client, given, answered } = await clientOf(await start(mcp), inbox, version);
      const tools = await client.listTools();
      const listed = tools.tools.find((tool) => tool.name === "report");
      expect(listed?._meta).toMatchObject({ "portcullis/delivery": "webhook" });

      const call = client.callTool("report", { topic: "tides" });
      // Released once the client holds the task, so that the result can only come after.
      await until(() => answered.includes("tools/call"));
      gate.resolve("high at noon");
      const result = await call;
      expect(result.content).toEqual([{ type: "text", text: "report on tides: high at noon" }]);
      // The result came by webhook: signed, accepted, and no tasks/get was needed.
      await until(() => recorded[0]?.status !== 0);
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({ status: 200, url: given[0]!.url });
      expect(methods).not.toContain("tasks/get");
      expect(JSON.parse(recorded[0]!.body)).toMatchObject({ type: "task.completed" });
      // Every call has its own address and secret, and gives it back when done.
      expect(given).toHaveLength(1);
      expect(given[0]!.url.startsWith(`${new URL(recorded[0]!.url).origin}/hooks/`)).toBe(true);
      expect(inbox.size).toBe(0);
      // Tools without webhook delivery are untouched by the inbox.
      expect((await client.callTool("echo", { text: "plain" })).content).toEqual([
        { type: "text", text: "plain" },
      ]);
      expect(given).toHaveLength(1);
      await client.close();
    });
  }

  it("refuses forged, stale, misdirected and replayed deliveries; the real result wins", async () => {
    const { mcp, gate, methods } = server();
    const { inbox, recorded } = await inboxOnLoopback();
    const { client, given } = await clientOf(await start(mcp), inbox);
    const task = await client.startTool("report", { topic: "storms" });
    const taskId = task.id!;
    const call = task.result();
    const { url, secret } = given[0]!;

    // A signature by another key.
    expect((await post(url, newSecret(), completed(taskId, "forged"))).status).toBe(401);
    // The right key, ten minutes late.
    const stale = Math.floor(Date.now() / 1000) - 600;
    expect((await post(url, secret, completed(taskId, "old"), { timestamp: stale })).status).toBe(
      400,
    );
    // No signature at all.
    const bare = await fetch(url, { method: "POST", body: JSON.stringify(completed(taskId, "x")) });
    expect(bare.status).toBe(400);
    // An address nobody was given.
    expect((await post(`${url}x`, secret, completed(taskId, "lost"))).status).toBe(404);
    // A correctly signed message is taken once; its replay is a duplicate and changes nothing.
    const working = { type: "task.working", data: { taskId, status: "working" } };
    expect((await post(url, secret, working, { id: "msg_once" })).status).toBe(202);
    const replay = await post(url, secret, working, { id: "msg_once" });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ duplicate: true });

    gate.resolve("calm");
    const result = await call;
    expect(result.content).toEqual([{ type: "text", text: "report on storms: calm" }]);
    // Settled by the real delivery, not by a poll.
    expect(methods).not.toContain("tasks/get");
    await until(() => recorded.some((entry) => entry.status !== 0 && isServers(entry)));
    const real = recorded.find(isServers);
    expect(real?.status).toBe(200);
    // Replaying the server's own delivery after the call ended: the address is closed.
    const again = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...real!.headers },
      body: real!.body,
    });
    expect(again.status).toBe(404);
    await client.close();
  });

  it("refuses a delivery for another task on the call's own address", async () => {
    const { mcp, gate } = server();
    const { inbox } = await inboxOnLoopback();
    const { client, given } = await clientOf(await start(mcp), inbox);
    const task = await client.startTool("report", { topic: "wind" });
    expect(task.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { url, secret } = given[0]!;
    const waiting = task.result();
    // Signed with the call's own secret, but about some other task: refused, not taken.
    const other = await post(url, secret, completed("B".repeat(43), "someone else's"));
    expect(other.status).toBe(409);
    gate.resolve("gusty");
    expect((await waiting).content).toEqual([{ type: "text", text: "report on wind: gusty" }]);
    await client.close();
  });

  it("refuses at call time a webhook URL the server's SSRF guard refuses", async () => {
    // Default webhook options: public https only, so a loopback inbox is refused.
    const { mcp, started } = server({});
    const { inbox } = await inboxOnLoopback();
    const { client } = await clientOf(await start(mcp), inbox);
    const refused = await client.callTool("report", { topic: "x" }).catch((error) => error);
    expect(refused).toBeInstanceOf(McpError);
    expect(refused).toMatchObject({ code: -32602 });
    expect((refused as Error).message).toMatch(/^Invalid webhook/);
    expect(started).toEqual([]);
    expect(inbox.size).toBe(0);
    await client.close();
  });

  it("refuses a call that names no webhook, and webhook tools on a server without webhooks", async () => {
    const { mcp, started } = server();
    const raw = new ModernClient(await start(mcp));
    const error = errorOf(
      await raw.request("tools/call", { name: "report", arguments: { topic: "y" } }),
    );
    expect(error.code).toBe(-32602);
    expect(error.message).toMatch(/delivers its result by webhook/);
    expect(started).toEqual([]);
    const off = new McpServer({ name: "off", version: "1.0.0", tasks: { webhooks: false } });
    expect(() => off.tool("t", { delivery: "webhook" }, () => "x")).toThrow(/webhooks is false/);
    const plain = new McpServer({ name: "p", version: "1.0.0" });
    expect(() =>
      plain.tool("t", { delivery: "webhook", taskSupport: "optional" }, () => "x"),
    ).toThrow(/taskSupport "required"/);
    expect(() => plain.tool("t", { delivery: "mail" as never }, () => "x")).toThrow(/delivery/);
    expect(() => webhookInbox({ url: "not a url" })).toThrow(/url/);
    expect(() => webhookInbox({ url: "https://a.example/h", fallbackPollMs: 0 })).toThrow(
      /fallbackPollMs/,
    );
  });

  it("falls back to polling when the receiver is down; the server gave up and kept the result", async () => {
    const gaveUp = deferred<WebhookFailure>();
    const { mcp, gate, methods } = server({
      allowLoopback: true,
      maxAttempts: 1,
      onFailure: (failure: WebhookFailure) => gaveUp.resolve(failure),
    });
    const dead = new URL(await deadUrl());
    const { inbox } = await inboxOnLoopback({ url: `${dead.origin}/hooks`, fallbackPollMs: 20 });
    const { client } = await clientOf(await start(mcp), inbox);
    const call = client.callTool("report", { topic: "fog" });
    await until(() => methods.includes("tools/call"));
    gate.resolve("thick");
    expect(await gaveUp.promise).toMatchObject({ attempts: 1 });
    expect((await call).content).toEqual([{ type: "text", text: "report on fog: thick" }]);
    expect(methods).toContain("tasks/get");
    await client.close();
  });
});

describe("webhook retries on the injected clock", () => {
  it("backs off 1 s then 2 s, gives up after maxAttempts, and the result stays pollable", async () => {
    const clock = manualClock();
    const gaveUp = deferred<WebhookFailure>();
    const retries: WebhookRetry[] = [];
    const { mcp, gate } = server(
      {
        allowLoopback: true,
        maxAttempts: 3,
        retryDelayMs: 1000,
        onFailure: (failure: WebhookFailure) => gaveUp.resolve(failure),
        onRetry: (retry: WebhookRetry) => retries.push(retry),
      },
      clock.now,
    );
    const secret = newSecret();
    const receiver = await webhookReceiver(secret, [503, 503, 503]);
    const client = new ModernClient(await start(mcp));
    const created = resultOf(
      await client.request("tools/call", {
        name: "report",
        arguments: { topic: "rain" },
        _meta: { [WEBHOOK]: { url: receiver.url, secret } },
      }),
    );
    expect(created.resultType).toBe("task");
    const taskId = created.taskId as string;
    // Timers from here on move only when the test moves them, alongside the clock.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    // The sender has heard the answer and set its retry timer: it says so.
    const retryPending = (count: number) => until(() => retries.length === count);
    const pass = async (ms: number) => {
      clock.advance(ms);
      await vi.advanceTimersByTimeAsync(ms);
    };
    gate.resolve("steady");
    const first = await receiver.next();
    expect(first.verified).toBe(true);
    await retryPending(1);
    expect(retries[0]).toMatchObject({ attempts: 1, retryAt: clock.now() + 1000 });
    await pass(999);
    expect(receiver.deliveries).toHaveLength(1);
    await pass(1);
    const second = await receiver.next();
    expect(second.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
    // The signature is made afresh for each attempt's timestamp, by the injected clock.
    expect(Number(second.headers["webhook-timestamp"])).toBe(
      Number(first.headers["webhook-timestamp"]) + 1,
    );
    await retryPending(2);
    expect(retries[1]).toMatchObject({ attempts: 2, retryAt: clock.now() + 2000 });
    await pass(1999);
    expect(receiver.deliveries).toHaveLength(2);
    await pass(1);
    const third = await receiver.next();
    expect(third.verified).toBe(true);
    expect(await gaveUp.promise).toMatchObject({ taskId, attempts: 3, reason: "answered 503" });
    expect(retries).toHaveLength(2);
    vi.useRealTimers();
    const done = await client.waitFor(taskId, "completed");
    expect(done.result).toMatchObject({ content: [{ text: "report on rain: steady" }] });
  });
});
