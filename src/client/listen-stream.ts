/**
 * The client's one `subscriptions/listen` stream (2026-07-28): opened with the union of what
 * the client wants, re-opened when that changes, checked against the server's
 * acknowledgement, and reconnected with backoff when it drops unexpectedly.
 */
import { isObject } from "../mcp/content.ts";
import { type JsonRpcNotification, McpError, type RequestId } from "../mcp/jsonrpc.ts";
import { META } from "../mcp/modern.ts";
import type { JsonObject } from "../mcp/types.ts";
import type { RequestOptions } from "./connection.ts";
import { type ClientWarning, ProtocolError, TransportError } from "./errors.ts";
import { backoff, type ReconnectPolicy } from "./reconnect.ts";
import { sameRequestId } from "./request-id.ts";
import { sleep } from "./signals.ts";

/** Which change notifications a stream asks for (the spec's notification filter). */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
  /** Tasks whose status notifications the stream carries (the tasks extension). */
  taskIds?: string[];
}

export interface ListenHost {
  /**
   * Sends `subscriptions/listen` with `filter`; resolves when the server ends the stream
   * gracefully, rejects when it breaks. `onId` learns the request id, which tags the stream.
   */
  open(
    filter: SubscriptionFilter,
    signal: AbortSignal,
    onId: (id: RequestId) => void,
  ): Promise<JsonObject>;
  /** The list-change notifications the client has hooks for. */
  lists(): { tools: boolean; prompts: boolean; resources: boolean };
  warn(warning: ClientWarning): void;
  /** Default wait for an acknowledgement. */
  timeoutMs: number;
  reconnect: ReconnectPolicy;
}

interface Stream {
  id: RequestId | undefined;
  /** Which start this was, in order. */
  generation: number;
  controller: AbortController;
  filter: SubscriptionFilter;
  /** What the server agreed to, once it did. */
  acknowledged?: SubscriptionFilter;
}

interface Waiter {
  resolve(ack: SubscriptionFilter): void;
  reject(error: unknown): void;
}

/** What a notification is to the stream: its acknowledgement, one of its notifications, neither. */
export type Routing = "ack" | "deliver" | "stale" | "unrelated";

export class ListenStream {
  readonly #host: ListenHost;
  readonly #uris = new Set<string>();
  readonly #tasks = new Set<string>();
  readonly #life = new AbortController();
  /** The acknowledged stream, whose notifications are delivered. */
  #active: Stream | undefined;
  /** A stream opened and not yet acknowledged; it replaces the active one when it is. */
  #pending: Stream | undefined;
  #waiters: Waiter[] = [];
  /**
   * Reconnections in a row that delivered nothing: a stream that is acknowledged and then
   * drops, again and again, is given up on like one that never opens.
   */
  #attempts = 0;
  #reconnecting = false;
  /** Counts the streams started, so a reconnection can tell whether it was overtaken. */
  #generation = 0;
  /** List filters already reported as refused, so each is reported once. */
  readonly #refused = new Set<string>();

  constructor(host: ListenHost) {
    this.#host = host;
  }

  /** Whether updates of `uri` were asked for. */
  watches(uri: string): boolean {
    return this.#uris.has(uri);
  }

  /** Adds a resource and waits until the server acknowledges it; rejects if it refuses. */
  async subscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    const added = !this.#uris.has(uri);
    // Already wanted and acknowledged: nothing to re-open.
    if (!added && this.#active?.acknowledged?.resourceSubscriptions?.includes(uri)) return;
    this.#uris.add(uri);
    try {
      const ack = await this.refresh(options);
      if (!ack?.resourceSubscriptions?.includes(uri)) {
        throw new ProtocolError(
          "ERR_SUBSCRIPTION",
          `The server did not acknowledge the subscription to ${uri}`,
        );
      }
    } catch (error) {
      if (added) this.#uris.delete(uri);
      throw error;
    }
  }

  /** Whether status notifications of `taskId` were asked for. */
  watchesTask(taskId: string): boolean {
    return this.#tasks.has(taskId);
  }

  /** Adds a task and waits until the server acknowledges it; rejects if it refuses. */
  async watchTask(taskId: string, options: RequestOptions = {}): Promise<void> {
    const added = !this.#tasks.has(taskId);
    if (!added && this.#active?.acknowledged?.taskIds?.includes(taskId)) return;
    this.#tasks.add(taskId);
    try {
      const ack = await this.refresh(options);
      if (!ack?.taskIds?.includes(taskId)) {
        throw new ProtocolError(
          "ERR_SUBSCRIPTION",
          `The server did not acknowledge status notifications for task ${taskId}`,
        );
      }
    } catch (error) {
      if (added) this.#tasks.delete(taskId);
      throw error;
    }
  }

  /** Stops asking for a task's status notifications. */
  async unwatchTask(taskId: string, options: RequestOptions = {}): Promise<void> {
    if (!this.#tasks.delete(taskId)) return;
    await this.refresh(options);
  }

  /** Removes a resource; the stream is re-opened without it (or closed when nothing is left). */
  async unsubscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    if (!this.#uris.delete(uri)) return;
    await this.refresh(options);
  }

  /**
   * (Re-)opens the stream with what the client now wants and resolves with the server's
   * acknowledgement; undefined when nothing is wanted and the stream is closed instead.
   */
  refresh(options: RequestOptions = {}): Promise<SubscriptionFilter | undefined> {
    if (this.#life.signal.aborted) return Promise.reject(this.#life.signal.reason);
    const filter = this.#filter();
    if (filter === undefined) {
      this.#end(this.#pending);
      this.#end(this.#active);
      this.#pending = undefined;
      this.#active = undefined;
      this.#settle(undefined, { resourceSubscriptions: [] });
      return Promise.resolve(undefined);
    }
    const ack = this.#waitForAck(options);
    this.#start(filter);
    return ack;
  }

  /** Sorts a notification from the server; only "deliver" ones go to the client's hooks. */
  route(notification: JsonRpcNotification): Routing {
    const meta = notification.params?._meta;
    const id = isObject(meta) ? meta[META.subscriptionId] : undefined;
    if (id === undefined) return "unrelated";
    const pending = this.#pending;
    if (pending && sameRequestId(id, pending.id)) {
      if (notification.method !== "notifications/subscriptions/acknowledged") return "stale";
      this.#acknowledged(pending, notification.params?.notifications);
      return "ack";
    }
    const active = this.#active;
    if (active && sameRequestId(id, active.id)) {
      if (notification.method === "notifications/subscriptions/acknowledged") return "ack";
      this.#attempts = 0;
      return "deliver";
    }
    return "stale";
  }

  /** Ends the stream for good. */
  close(reason: Error): void {
    this.#life.abort(reason);
    this.#end(this.#pending);
    this.#end(this.#active);
    this.#pending = undefined;
    this.#active = undefined;
    this.#settle(reason);
  }

  #filter(): SubscriptionFilter | undefined {
    const lists = this.#host.lists();
    const filter: SubscriptionFilter = {};
    if (lists.tools) filter.toolsListChanged = true;
    if (lists.prompts) filter.promptsListChanged = true;
    if (lists.resources) filter.resourcesListChanged = true;
    if (this.#uris.size) filter.resourceSubscriptions = [...this.#uris];
    if (this.#tasks.size) filter.taskIds = [...this.#tasks];
    return Object.keys(filter).length ? filter : undefined;
  }

  #start(filter: SubscriptionFilter): void {
    // A stream still waiting for its acknowledgement is superseded; the active one keeps
    // delivering until the new one is acknowledged, so nothing falls in the gap.
    this.#end(this.#pending);
    const stream: Stream = {
      id: undefined,
      generation: ++this.#generation,
      controller: new AbortController(),
      filter,
    };
    this.#pending = stream;
    const signal = AbortSignal.any([stream.controller.signal, this.#life.signal]);
    this.#host
      .open(filter, signal, (id) => {
        stream.id = id;
      })
      .then(
        () => this.#ended(stream, undefined),
        (error: unknown) => this.#ended(stream, error),
      );
  }

  #end(stream: Stream | undefined): void {
    stream?.controller.abort(new Error("subscription replaced"));
  }

  #acknowledged(stream: Stream, notifications: unknown): void {
    const ack = (isObject(notifications) ? notifications : {}) as SubscriptionFilter;
    stream.acknowledged = ack;
    this.#end(this.#active);
    this.#active = stream;
    this.#pending = undefined;
    const lists = [
      ["toolsListChanged", "tools"],
      ["promptsListChanged", "prompts"],
      ["resourcesListChanged", "resources"],
    ] as const;
    for (const [flag, list] of lists) {
      if (stream.filter[flag] && ack[flag] !== true && !this.#refused.has(flag)) {
        this.#refused.add(flag);
        this.#host.warn({
          code: "subscription_refused",
          message: `The server does not send ${list} list changes on subscriptions/listen`,
        });
      }
    }
    this.#settle(undefined, ack);
  }

  #ended(stream: Stream, error: unknown): void {
    const wasActive = this.#active === stream;
    if (!wasActive && this.#pending !== stream) return; // Replaced or closed: expected.
    if (wasActive) this.#active = undefined;
    else this.#pending = undefined;
    // The active stream ended while its successor is on the way: the successor takes over.
    if (wasActive && this.#pending) return;
    if (error === undefined) {
      // The server ended the subscription on purpose (shutting down): it asked us to stop.
      this.#host.warn({
        code: "subscription_ended",
        message: "The server ended the subscriptions/listen stream",
      });
      this.#settle(new TransportError("ERR_STREAM_ENDED", "The server ended the subscription"));
      return;
    }
    // The connection is gone: nothing to reconnect through.
    if (error instanceof TransportError && error.code === "ERR_CONNECTION_CLOSED") {
      this.#settle(error);
      return;
    }
    // The server refused the request itself, or answered nonsense: trying again will not help.
    if (error instanceof McpError || error instanceof ProtocolError) {
      this.#host.warn({
        code: "subscription_failed",
        message: `subscriptions/listen failed: ${error.message}`,
        detail: error,
      });
      this.#settle(error);
      return;
    }
    void this.#reconnect(error);
  }

  /** A stream broke: open it again after a growing delay, a bounded number of times in a row. */
  async #reconnect(error: unknown): Promise<void> {
    if (this.#reconnecting) return;
    const { maxAttempts } = this.#host.reconnect;
    if (++this.#attempts > maxAttempts) {
      this.#host.warn({
        code: "subscription_lost",
        message: `Gave up on subscriptions/listen after ${maxAttempts} attempts to reconnect`,
        detail: error,
      });
      this.#attempts = 0;
      this.#settle(error);
      return;
    }
    this.#reconnecting = true;
    const generation = this.#generation;
    const slept = await sleep(backoff(this.#host.reconnect, this.#attempts), this.#life.signal);
    this.#reconnecting = false;
    // Closed, or re-opened meanwhile (a subscribe): nothing to do.
    if (!slept || this.#pending || (this.#active && this.#active.generation > generation)) return;
    const filter = this.#filter();
    if (filter) this.#start(filter);
  }

  #waitForAck(options: RequestOptions): Promise<SubscriptionFilter> {
    return new Promise<SubscriptionFilter>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#host.timeoutMs;
      const signal = options.signal;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => finish(() => reject(signal?.reason));
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#waiters = this.#waiters.filter((other) => other !== waiter);
        settle();
      };
      const waiter: Waiter = {
        resolve: (ack) => finish(() => resolve(ack)),
        reject: (error) => finish(() => reject(error)),
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () =>
            waiter.reject(
              new TransportError(
                "ERR_TIMEOUT",
                `subscriptions/listen was not acknowledged within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      }
      this.#waiters.push(waiter);
    });
  }

  #settle(error: unknown, ack?: SubscriptionFilter): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (ack) waiter.resolve(ack);
      else waiter.reject(error);
    }
  }
}
