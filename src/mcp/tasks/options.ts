import type { Store } from "../../storage/store.ts";
import type { Clock } from "../../util/clock.ts";
import type { WebhookOptions } from "./webhook.ts";

/** Tasks: long-running tool calls the client polls instead of waiting on. */
export interface TaskOptions {
  /** Where task records live. Default: an in-memory store of this process. */
  store?: Store;
  /** Lifetime of a task when the client asks for none. Default 1 hour. */
  defaultTtlMs?: number;
  /** Longest lifetime granted, whatever the client asks. Default 24 hours. */
  maxTtlMs?: number;
  /** Polling interval suggested to clients. Default 1 s. */
  pollIntervalMs?: number;
  /**
   * 2026-07-28: how long a tool with `taskSupport: "optional"` may run inline before its call
   * is answered with a task handle. Default 1 s.
   */
  handoffMs?: number;
  /** Tasks an authenticated caller may hold at once (tasks/list keeps them all). Default 1000. */
  maxTasksPerCaller?: number;
  /** Completion webhooks (`_meta["portcullis/webhook"]`); false refuses them. Default on. */
  webhooks?: WebhookOptions | false;
  /**
   * What task lifetimes and timestamps are read from (epoch ms). Default Date.now. A `store`
   * given here expires records by its own clock: give it the same one.
   */
  clock?: Clock;
}
