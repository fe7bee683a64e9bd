/**
 * The receiving side of webhooks: a real McpServer sends its signed task-completion webhook
 * over loopback to a Hono app guarded by webhookReceiver; forged, stale and duplicate
 * deliveries are refused and never reach the handler.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, signWebhook } from "../../src/index.ts";
import { verifyWebhook, webhookReceiver } from "../../src/queue/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { deferred } from "../helpers/async.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import { type Json, ModernClient, newSecret, resultOf, start } from "../mcp/tasks/support.ts";

interface Captured {
  headers: Record<string, string>;
  body: string;
}

async function receiver(secret: string) {
  const clock = manualClock();
  const handled: Json[] = [];
  const arrived = deferred<Captured>();
  const app = new Hono();
  app.post(
    "/hook",
    async (c, next) => {
      // What came over the wire, to replay it later.
      const copy = c.req.raw.clone();
      const headers = Object.fromEntries(
        [...copy.headers].filter(([name]) => name.startsWith("webhook-")),
      );
      arrived.resolve({ headers, body: await copy.text() });
      await next();
    },
    webhookReceiver({ secret, store: memoryStore(), clock: clock.now }),
    (c) => {
      handled.push(c.var.webhook.payload as Json);
      return c.body(null, 204);
    },
  );
  const url = `${await listen(app)}/hook`;
  const post = (headers: Record<string, string>, body: string) =>
    fetch(url, { method: "POST", headers, body });
  return { url, clock, handled, arrived: arrived.promise, post };
}

describe("webhookReceiver", () => {
  it("takes a signed result from the server and refuses forged, stale and duplicate ones", async () => {
    const secret = newSecret();
    const hook = await receiver(secret);
    const mcp = new McpServer({
      name: "hooks",
      version: "1.0.0",
      tasks: { webhooks: { allowLoopback: true, maxAttempts: 1 } },
    });
    mcp.tool("quick", { taskSupport: "required", input: z.object({}) }, () => "quick done");
    const client = new ModernClient(await start(mcp));
    const created = resultOf(
      await client.request("tools/call", {
        name: "quick",
        arguments: {},
        _meta: { "portcullis/webhook": { url: hook.url, secret } },
      }),
    );
    const delivery = await hook.arrived;
    await expect.poll(() => hook.handled.length).toBe(1);
    expect(hook.handled[0]).toMatchObject({
      type: "task.completed",
      data: { taskId: created.taskId, result: { content: [{ text: "quick done" }] } },
    });

    // The same delivery again: acknowledged, not handled.
    const again = await hook.post(delivery.headers, delivery.body);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ duplicate: true });

    // A body changed after signing, and one signed with another secret.
    const tampered = await hook.post(
      { ...delivery.headers, "webhook-id": "msg_other" },
      delivery.body.replace("quick done", "forged"),
    );
    expect(tampered.status).toBe(401);
    expect(await tampered.json()).toMatchObject({ error: "ERR_WEBHOOK_SIGNATURE" });
    const now = Math.floor(hook.clock.now() / 1000);
    const wrongKey = (await verifyKeyOf(newSecret(), "msg_x", now, delivery.body)) as string;
    const forged = await hook.post(
      { "webhook-id": "msg_x", "webhook-timestamp": String(now), "webhook-signature": wrongKey },
      delivery.body,
    );
    expect(forged.status).toBe(401);

    // Correctly signed but ten minutes old by the receiver's clock.
    hook.clock.advance(10 * 60_000);
    const stale = await hook.post({ ...delivery.headers, "webhook-id": "msg_late" }, delivery.body);
    expect(stale.status).toBe(400);
    expect(await stale.json()).toMatchObject({ error: "ERR_WEBHOOK_TIMESTAMP" });
    const missing = await hook.post({}, delivery.body);
    expect(missing.status).toBe(400);
    expect(hook.handled).toHaveLength(1);
  });

  it("verifyWebhook throws stable codes and accepts a rotated secret", async () => {
    const [oldSecret, newOne] = [newSecret(), newSecret()];
    const clock = manualClock();
    const body = JSON.stringify({ hello: "world" });
    const timestamp = Math.floor(clock.now() / 1000);
    const signature = await verifyKeyOf(newOne, "msg_1", timestamp, body);
    const request = () =>
      new Request("http://127.0.0.1/hook", {
        method: "POST",
        headers: {
          "webhook-id": "msg_1",
          "webhook-timestamp": String(timestamp),
          "webhook-signature": `v1,bm90IGl0 ${signature}`,
        },
        body,
      });
    const store = memoryStore();
    const message = await verifyWebhook(request(), {
      secret: [oldSecret, newOne],
      store,
      clock: clock.now,
    });
    expect(message).toMatchObject({ id: "msg_1", payload: { hello: "world" } });
    await expect(
      verifyWebhook(request(), { secret: [oldSecret, newOne], store, clock: clock.now }),
    ).rejects.toMatchObject({ code: "ERR_WEBHOOK_DUPLICATE" });
    await expect(
      verifyWebhook(request(), { secret: oldSecret, clock: clock.now }),
    ).rejects.toMatchObject({ code: "ERR_WEBHOOK_SIGNATURE" });
    expect(() => webhookReceiver({ secret: "plain" })).toThrow(TypeError);
  });
});

async function verifyKeyOf(secret: string, id: string, timestamp: number, body: string) {
  const key = Uint8Array.from(Buffer.from(secret.slice(6), "base64"));
  return signWebhook(key, id, timestamp, body);
}
