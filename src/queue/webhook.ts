import type { Context, MiddlewareHandler } from "hono";
import type { Store } from "../storage/store.ts";
import { fromBase64 } from "../util/bytes.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { PortcullisError } from "../util/errors.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The verified webhook message, set by webhookReceiver. */
    webhook: WebhookMessage;
  }
}

export type WebhookErrorCode =
  | "ERR_WEBHOOK_HEADERS"
  | "ERR_WEBHOOK_SIGNATURE"
  | "ERR_WEBHOOK_TIMESTAMP"
  | "ERR_WEBHOOK_DUPLICATE";

/** Why a delivery was refused; `code` is stable. */
export class WebhookVerificationError extends PortcullisError {
  declare readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string) {
    super(code, message);
    this.name = "WebhookVerificationError";
  }
}

export interface VerifyWebhookOptions {
  /** The `whsec_…` secret (or several, while rotating) the sender signs with. */
  secret: string | readonly string[];
  /** How far the `webhook-timestamp` may be from now, either way. Default 300 s. */
  toleranceSeconds?: number;
  /**
   * Remembers message ids for the tolerance window, so a replayed or retried delivery is
   * refused (ERR_WEBHOOK_DUPLICATE) after the first. Absent: duplicates are not detected.
   */
  store?: Store;
  /** Prefix of the Store keys. Default "webhook:". */
  prefix?: string;
  clock?: Clock;
}

/** A delivery that passed: its id, time (Unix seconds) and body. */
export interface WebhookMessage {
  id: string;
  timestamp: number;
  body: string;
  /** The body parsed as JSON. */
  payload: unknown;
}

function keysOf(secret: string | readonly string[]): Uint8Array<ArrayBuffer>[] {
  const list = typeof secret === "string" ? [secret] : secret;
  if (!list.length) throw new TypeError("verifyWebhook: secret is required");
  return list.map((one) => {
    if (!one.startsWith("whsec_")) throw new TypeError("verifyWebhook: secrets start with whsec_");
    const key = fromBase64(one.slice(6));
    if (key.length < 24) throw new TypeError("verifyWebhook: a secret must be 24 bytes or more");
    return key;
  });
}

const fail = (code: WebhookErrorCode, message: string) =>
  new WebhookVerificationError(code, message);

/**
 * Checks a Standard Webhooks delivery: the `webhook-signature` (HMAC-SHA256 over
 * `id.timestamp.body`, compared in constant time by Web Crypto), the timestamp within the
 * tolerance of `clock`, and, given a Store, that the id was not seen before. The id is recorded
 * only once the signature holds, so forged deliveries cannot use up ids. Throws
 * WebhookVerificationError; resolves with the message.
 */
export async function verifyWebhook(
  request: Request,
  options: VerifyWebhookOptions,
): Promise<WebhookMessage> {
  const keys = keysOf(options.secret);
  const tolerance = options.toleranceSeconds ?? 300;
  const clock = options.clock ?? systemClock;
  const id = request.headers.get("webhook-id");
  const stamp = request.headers.get("webhook-timestamp");
  const signatures = request.headers.get("webhook-signature");
  if (!id || !stamp || !signatures || id.length > 256 || !/^\d{1,12}$/.test(stamp)) {
    throw fail(
      "ERR_WEBHOOK_HEADERS",
      "webhook-id, webhook-timestamp and webhook-signature are required",
    );
  }
  const timestamp = Number(stamp);
  if (Math.abs(clock() / 1000 - timestamp) > tolerance) {
    throw fail("ERR_WEBHOOK_TIMESTAMP", "the webhook timestamp is outside the tolerance window");
  }
  const body = await request.text();
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  let valid = false;
  for (const entry of signatures.split(" ").slice(0, 8)) {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value) continue;
    let mac: Uint8Array<ArrayBuffer>;
    try {
      mac = fromBase64(value);
    } catch {
      continue;
    }
    for (const key of keys) {
      const hmac = await crypto.subtle.importKey(
        "raw",
        key,
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
      if (await crypto.subtle.verify("HMAC", hmac, mac, signed)) valid = true;
    }
  }
  if (!valid) throw fail("ERR_WEBHOOK_SIGNATURE", "no valid webhook signature");
  if (options.store) {
    const fresh = await options.store.add(`${options.prefix ?? "webhook:"}${id}`, timestamp, {
      ttlMs: tolerance * 2 * 1000,
    });
    if (!fresh) throw fail("ERR_WEBHOOK_DUPLICATE", "this webhook message was delivered before");
  }
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    payload = undefined;
  }
  return { id, timestamp, body, payload };
}

/**
 * Hono middleware that lets only verified Standard Webhooks deliveries through, with the
 * message in `c.var.webhook`. Bad headers and stale timestamps get 400, a bad signature 401;
 * a duplicate gets 200 without reaching the handler, so a sender that retries after a lost
 * answer stops without the delivery being processed twice.
 */
export function webhookReceiver(options: VerifyWebhookOptions): MiddlewareHandler {
  keysOf(options.secret);
  return async (c, next) => {
    try {
      c.set("webhook", await verifyWebhook(c.req.raw, options));
    } catch (error) {
      return webhookRefusal(c, error);
    }
    await next();
  };
}

/**
 * The answer to a delivery verifyWebhook refused: 200 for a duplicate (the sender may stop
 * retrying), 401 for a bad signature, 400 otherwise. Rethrows anything else.
 */
export function webhookRefusal(c: Context, error: unknown): Response {
  if (!(error instanceof WebhookVerificationError)) throw error;
  if (error.code === "ERR_WEBHOOK_DUPLICATE") return c.json({ duplicate: true }, 200);
  const status = error.code === "ERR_WEBHOOK_SIGNATURE" ? 401 : 400;
  return c.json({ error: error.code, error_description: error.message }, status);
}
