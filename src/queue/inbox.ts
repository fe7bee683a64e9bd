import { Hono } from "hono";
import type { DeliveryInbox, DeliverySlot } from "../client/deliveries.ts";
import { isObject } from "../mcp/content.ts";
import type { JsonObject } from "../mcp/types.ts";
import { memoryStore } from "../storage/memory.ts";
import type { Store } from "../storage/store.ts";
import { toBase64 } from "../util/bytes.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { randomToken } from "../util/crypto.ts";
import { verifyWebhook, webhookRefusal } from "./webhook.ts";

/** Where a webhook inbox listens, and how it checks what it is sent. */
export interface WebhookInboxOptions {
  /**
   * The public URL at which `app` is reachable (https, or http to loopback for local use):
   * each call gets `<url>/<token>`, with a token and a secret of its own.
   */
  url: string;
  /** Remembers delivery ids, so a replayed delivery is refused. Default: in memory. */
  store?: Store;
  /** How far a delivery's timestamp may be from now. Default 300 s. */
  toleranceSeconds?: number;
  /** Between tasks/get polls while a call waits for its delivery. Default 30 s. */
  fallbackPollMs?: number;
  /** How long an address stays open for a call nobody waits on any more. Default 24 h. */
  slotTtlMs?: number;
  /** Addresses open at once; opening one more forgets the oldest. Default 10,000. */
  maxOpen?: number;
  clock?: Clock;
}

/** A {@link DeliveryInbox} for `McpClient({ deliveries })`, with the route that receives. */
export interface WebhookInbox extends DeliveryInbox {
  /** Receives the deliveries: serve it, or mount it at the path of `url`. */
  readonly app: Hono;
  /** Addresses open now (calls waiting for a delivery). */
  readonly size: number;
}

interface Slot {
  readonly secret: string;
  readonly openedAt: number;
  taskId?: string;
  /** A verified task that came before its call learnt the task id. */
  early?: JsonObject;
  resolve?: (task: JsonObject) => void;
  promise?: Promise<JsonObject>;
}

const TERMINAL: ReadonlySet<unknown> = new Set(["completed", "failed", "cancelled"]);

function positive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new TypeError(`webhookInbox: ${name} must be a positive number`);
  }
}

/**
 * Takes tool results by webhook for an McpClient. Every call gets its own address and secret,
 * so a server can sign deliveries for its own calls only. A delivery is accepted when its
 * Standard Webhooks signature checks against the call's secret, its timestamp is within the
 * tolerance, its id is new, and it carries the call's task; anything else is refused and
 * changes nothing.
 *
 * ```ts
 * const inbox = webhookInbox({ url: "https://agent.example.com/hooks" });
 * app.route("/hooks", inbox.app);
 * const client = new McpClient({ name: "agent", version: "1.0.0", deliveries: inbox });
 * ```
 */
export function webhookInbox(options: WebhookInboxOptions): WebhookInbox {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new TypeError("webhookInbox: url must be an absolute URL");
  }
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new TypeError("webhookInbox: url must be http(s)");
  }
  positive("toleranceSeconds", options.toleranceSeconds);
  positive("fallbackPollMs", options.fallbackPollMs);
  positive("slotTtlMs", options.slotTtlMs);
  positive("maxOpen", options.maxOpen);
  const clock = options.clock ?? systemClock;
  const store = options.store ?? memoryStore({ clock });
  const slotTtl = options.slotTtlMs ?? 24 * 3_600_000;
  const maxOpen = options.maxOpen ?? 10_000;
  const prefix = base.href.replace(/\/+$/, "");
  const slots = new Map<string, Slot>();

  /** Forgets addresses past their time, and the oldest beyond the limit (Map keeps order). */
  const sweep = () => {
    const now = clock();
    for (const [token, slot] of slots) {
      if (slots.size < maxOpen && slot.openedAt + slotTtl > now) break;
      slots.delete(token);
    }
  };

  const settle = (slot: Slot, task: JsonObject) => {
    if (slot.resolve) slot.resolve(task);
    else slot.early = task;
  };

  const app = new Hono();
  app.post("/:token", async (c) => {
    const slot = slots.get(c.req.param("token"));
    // Unknown, closed and expired addresses look the same.
    if (!slot) return c.json({ error: "not_found" }, 404);
    let payload: unknown;
    try {
      ({ payload } = await verifyWebhook(c.req.raw, {
        secret: slot.secret,
        store,
        prefix: "inbox:",
        clock,
        ...(options.toleranceSeconds === undefined
          ? {}
          : { toleranceSeconds: options.toleranceSeconds }),
      }));
    } catch (error) {
      return webhookRefusal(c, error);
    }
    const task = isObject(payload) && isObject(payload.data) ? payload.data : undefined;
    if (!task || typeof task.taskId !== "string") {
      return c.json({ error: "invalid_payload", error_description: "no task in the payload" }, 400);
    }
    if (slot.taskId !== undefined && task.taskId !== slot.taskId) {
      return c.json({ error: "wrong_task", error_description: "not this call's task" }, 409);
    }
    // Only the end of a task settles its call; anything earlier is taken and left.
    if (!TERMINAL.has(task.status)) return c.json({ accepted: true }, 202);
    settle(slot, task);
    return c.json({ accepted: true }, 200);
  });

  return {
    app,
    get size() {
      return slots.size;
    },
    ...(options.fallbackPollMs === undefined ? {} : { fallbackPollMs: options.fallbackPollMs }),
    open(): DeliverySlot {
      sweep();
      const token = randomToken(32);
      const secret = `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
      const slot: Slot = { secret, openedAt: clock() };
      slots.set(token, slot);
      return {
        url: `${prefix}/${token}`,
        secret,
        expect(taskId) {
          if (slot.taskId === undefined) slot.taskId = taskId;
          if (slot.taskId !== taskId) return new Promise<never>(() => {});
          slot.promise ??= new Promise<JsonObject>((resolve) => {
            const early = slot.early;
            if (early && early.taskId === taskId) resolve(early);
            else slot.resolve = resolve;
          });
          return slot.promise;
        },
        close() {
          slots.delete(token);
        },
      };
    },
  };
}
