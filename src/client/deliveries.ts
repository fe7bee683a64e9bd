/**
 * The seam through which McpClient takes results by webhook instead of polling for them. The
 * receiving end (an HTTP route that verifies Standard Webhooks signatures) lives with the
 * runtime-neutral queue pieces: `webhookInbox` in portcullis/queue implements it.
 */
import type { JsonObject } from "../mcp/types.ts";

/** Hands out one webhook address per call and resolves calls when their delivery arrives. */
export interface DeliveryInbox {
  /** A fresh address for one call: its own URL and signing secret. */
  open(): DeliverySlot;
  /**
   * Time between tasks/get polls while a call waits for its delivery, in case it never comes
   * (the receiver was down, the delivery was lost). Default 30 s.
   */
  readonly fallbackPollMs?: number;
}

/** The address of one call, given to the server in `_meta["portcullis/webhook"]`. */
export interface DeliverySlot {
  readonly url: string;
  /** `whsec_` and base64: the key the server signs this call's delivery with. */
  readonly secret: string;
  /**
   * Resolves with the task a verified delivery for `taskId` carried (the payload's `data`);
   * a delivery that came before the call learnt its task id is kept for this.
   */
  expect(taskId: string): Promise<JsonObject>;
  /** Stops taking deliveries for this call. */
  close(): void;
}

/** Between polls when the inbox does not say: deliveries are the way, polls the safety net. */
export const DEFAULT_FALLBACK_POLL_MS = 30_000;
