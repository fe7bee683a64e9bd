import { fromBase64, toBase64 } from "../../util/bytes.ts";
import { type Clock, systemClock } from "../../util/clock.ts";
import { checkUrl, FetchRefusedError, fetchChecked, type ResolveHost } from "../../util/ssrf.ts";
import { isObject } from "../content.ts";
import { ErrorCode, McpError } from "../jsonrpc.ts";
import type { JsonObject } from "../types.ts";

/** The request `_meta` key under which a caller asks for a completion webhook. */
export const WEBHOOK_META = "portcullis/webhook";

/** The tool `_meta` key that lists a tool whose results go out by webhook only. */
export const DELIVERY_META = "portcullis/delivery";

/** How completion webhooks are sent. */
export interface WebhookOptions {
  /** Allow http:// to loopback hosts (local development and tests only). Default false. */
  allowLoopback?: boolean;
  /**
   * Resolves a host name to its addresses, every one of which must be public. Default: the
   * runtime's resolver on Node, Bun and Deno, and deliveries connect only to the addresses
   * checked; none on Workers, where only the URL itself is checked.
   */
  resolveHost?: ResolveHost;
  /** Deliveries tried per webhook. Default 5. */
  maxAttempts?: number;
  /** Wait before the first retry; it doubles after each failure. Default 1 s. */
  retryDelayMs?: number;
  /** Time limit of one delivery attempt. Default 10 s. */
  timeoutMs?: number;
  /** Told when a webhook was given up on; the task's result stays readable. */
  onFailure?: (failure: WebhookFailure) => void;
  /** Told when an attempt failed and another is due (epoch ms by the tasks' clock). */
  onRetry?: (retry: WebhookRetry) => void;
}

export interface WebhookRetry extends WebhookFailure {
  /** When the next attempt is made. */
  retryAt: number;
}

export interface WebhookFailure {
  taskId: string;
  url: string;
  attempts: number;
  reason: string;
}

/** A validated webhook request: where to POST and the key to sign with. */
export interface WebhookTarget {
  url: string;
  key: Uint8Array<ArrayBuffer>;
}

function invalid(reason: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `Invalid webhook: ${reason}`);
}

function decodeSecret(secret: unknown): Uint8Array<ArrayBuffer> {
  if (typeof secret !== "string" || !secret.startsWith("whsec_")) {
    throw invalid('"secret" must be a whsec_-prefixed base64 string');
  }
  let key: Uint8Array<ArrayBuffer>;
  try {
    key = fromBase64(secret.slice(6));
  } catch {
    throw invalid('"secret" is not valid base64');
  }
  // Standard Webhooks keys are 24 to 64 bytes; shorter ones are too easy to guess.
  if (key.length < 24 || key.length > 64) throw invalid('"secret" must decode to 24-64 bytes');
  return key;
}

/**
 * The webhook a request asks for in `_meta["portcullis/webhook"]` (`{ url, secret }`), checked
 * now so a caller learns at once that its URL is refused. Undefined when none is asked for.
 */
export async function requestedWebhook(
  meta: JsonObject | undefined,
  options: WebhookOptions | false,
): Promise<WebhookTarget | undefined> {
  const raw = meta?.[WEBHOOK_META];
  if (raw === undefined) return undefined;
  if (options === false) throw invalid("this server does not send webhooks");
  if (!isObject(raw)) throw invalid("expected an object with url and secret");
  if (typeof raw.url !== "string" || raw.url.length > 2048) throw invalid('"url" must be a URL');
  let url: URL;
  try {
    url = new URL(raw.url);
  } catch {
    throw invalid('"url" must be a URL');
  }
  const key = decodeSecret(raw.secret);
  try {
    await checkUrl(url, options);
  } catch (error) {
    // The same answer for every refused URL: what its name resolves to is not the caller's
    // business (a way to map the network behind this server).
    if (error instanceof FetchRefusedError) throw invalid(error.message);
    throw error;
  }
  return { url: url.href, key };
}

/** The Standard Webhooks signature: `v1,` and the HMAC-SHA256 of `id.timestamp.body`. */
export async function signWebhook(
  key: Uint8Array<ArrayBuffer>,
  id: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign(
    "HMAC",
    hmac,
    new TextEncoder().encode(`${id}.${timestamp}.${body}`),
  );
  return `v1,${toBase64(mac)}`;
}

/**
 * Resolves once `clock` reads `due` or later. Timers only wake it up to look: the clock
 * decides, so a test that moves an injected clock (and fake timers) sees every retry at once.
 */
function waitUntil(clock: Clock, due: number): Promise<void> {
  return new Promise((resolve) => {
    const look = () => {
      const left = due - clock();
      if (left <= 0) return resolve();
      const timer = setTimeout(look, left);
      // Pending retries must not keep a process alive that has nothing else to do.
      (timer as { unref?: () => void }).unref?.();
    };
    look();
  });
}

/**
 * Sends signed completion webhooks with bounded, exponentially spaced retries. A delivery
 * never throws: whatever happens to it, the task's result is already in the store.
 */
export class WebhookSender {
  readonly #options: WebhookOptions;
  readonly #clock: Clock;

  constructor(options: WebhookOptions, clock: Clock = systemClock) {
    for (const name of ["maxAttempts", "retryDelayMs", "timeoutMs"] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
        throw new TypeError(`tasks.webhooks.${name} must be a positive number`);
      }
    }
    this.#options = options;
    this.#clock = clock;
  }

  async deliver(taskId: string, target: WebhookTarget, payload: JsonObject): Promise<void> {
    const id = `msg_${crypto.randomUUID().replaceAll("-", "")}`;
    const body = JSON.stringify(payload);
    const attempts = Math.max(1, this.#options.maxAttempts ?? 5);
    let delay = this.#options.retryDelayMs ?? 1000;
    let reason = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        // Checked again at each attempt (the name may resolve elsewhere by now), and sent
        // only to the addresses that passed.
        const timestamp = Math.floor(this.#clock() / 1000);
        const response = await fetchChecked(
          new URL(target.url),
          {
            method: "POST",
            signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
            headers: {
              "content-type": "application/json",
              "webhook-id": id,
              "webhook-timestamp": String(timestamp),
              "webhook-signature": await signWebhook(target.key, id, timestamp, body),
            },
            body,
          },
          this.#options,
        );
        await response.body?.cancel().catch(() => undefined);
        if (response.status >= 200 && response.status < 300) return;
        reason = `answered ${response.status}`;
      } catch (error) {
        reason =
          error instanceof FetchRefusedError
            ? error.detail
            : error instanceof Error
              ? error.message
              : String(error);
        if (error instanceof FetchRefusedError && error.code === "ERR_GUARD_URL_REFUSED") {
          this.#options.onFailure?.({ taskId, url: target.url, attempts: attempt, reason });
          return;
        }
      }
      if (attempt < attempts) {
        const retryAt = this.#clock() + delay;
        this.#options.onRetry?.({ taskId, url: target.url, attempts: attempt, reason, retryAt });
        await waitUntil(this.#clock, retryAt);
        delay *= 2;
      }
    }
    this.#options.onFailure?.({ taskId, url: target.url, attempts, reason });
  }
}
