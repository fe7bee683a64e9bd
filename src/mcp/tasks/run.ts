import { isObject } from "../content.ts";
import {
  ErrorCode,
  type JsonRpcErrorObject,
  type JsonRpcNotification,
  McpError,
} from "../jsonrpc.ts";
import type { Peer } from "../peer.ts";
import type { JsonObject } from "../types.ts";
import {
  detailedTask,
  isTerminal,
  legacyTask,
  RELATED_TASK,
  type TaskFlavor,
  type TaskRecord,
  type TaskStatus,
} from "./record.ts";
import type { TaskStore } from "./store.ts";
import type { WebhookSender, WebhookTarget } from "./webhook.ts";

/** How a task's handler ended: its result, or the JSON-RPC error it raised. */
export type Outcome = { result: JsonObject } | { error: JsonRpcErrorObject };

/** A request from a task's handler to the client, waiting for its answer. */
export interface PendingAsk {
  readonly key: string;
  readonly method: string;
  readonly params: JsonObject;
  resolve(answer: JsonObject): void;
  reject(error: unknown): void;
}

export interface TaskRunOptions {
  store: TaskStore;
  record: TaskRecord;
  /** The client that created the task: 2025-11-25 status notifications go to its session. */
  peer: Peer;
  /** Aborts the handler's signal; the run aborts it on cancellation and expiry. */
  controller: AbortController;
  webhook: { target: WebhookTarget; sender: WebhookSender } | undefined;
  /** Called once, when the run lets go of its task. */
  onEnd: () => void;
}

/** Adds the related-task `_meta` a 2025-11-25 message about a task must carry. */
export function relatedTo<T extends { params?: JsonObject }>(message: T, taskId: string): T {
  const params = message.params ?? {};
  const meta = isObject(params._meta) ? params._meta : {};
  return { ...message, params: { ...params, _meta: { ...meta, [RELATED_TASK]: { taskId } } } };
}

function unref(timer: unknown): void {
  // Task timers must not keep a process alive that has nothing else to do.
  (timer as { unref?: () => void }).unref?.();
}

/**
 * Waits for `wake` to be called, for `ms`, or until `signal` aborts (then rejects). `subscribe`
 * registers the wake-up and returns its removal.
 */
export function waitFor(
  ms: number,
  signal: AbortSignal | undefined,
  subscribe?: (wake: () => void) => () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const finish = (error?: unknown) => {
      clearTimeout(timer);
      unsubscribe?.();
      signal?.removeEventListener("abort", aborted);
      if (error === undefined) resolve();
      else reject(error);
    };
    const aborted = () => finish(signal?.reason ?? new Error("aborted"));
    const timer = setTimeout(() => finish(), ms);
    unref(timer);
    const unsubscribe = subscribe?.(() => finish());
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

/** The text of a tool result that reports an error, for the task's status message. */
function errorText(result: JsonObject): string | undefined {
  if (result.isError !== true || !Array.isArray(result.content)) return undefined;
  const first: unknown = result.content.find((block) => isObject(block) && block.type === "text");
  return isObject(first) && typeof first.text === "string" ? first.text.slice(0, 1000) : undefined;
}

const taskEnded = () => new McpError(ErrorCode.InvalidRequest, "The task has ended");

/**
 * A task whose handler runs in this process: it carries the handler's requests to the client,
 * records its outcome, honours cancellation and expiry, and sends the completion webhook.
 * Everything a client can observe lives in the store; this object only drives the handler.
 */
export class TaskRun {
  readonly taskId: string;
  readonly flavor: TaskFlavor;
  readonly #store: TaskStore;
  readonly #peer: Peer;
  readonly #controller: AbortController;
  readonly #webhook: TaskRunOptions["webhook"];
  readonly #onEnd: () => void;
  readonly #pollMs: number;
  /** Requests the handler waits on, by key. */
  readonly #asks = new Map<string, PendingAsk>();
  /** 2025-11-25 requests that no tasks/result has carried to the client yet, oldest first. */
  readonly #undelivered: PendingAsk[] = [];
  readonly #wakers = new Set<() => void>();
  readonly #end = new AbortController();
  readonly #ttlTimer: ReturnType<typeof setTimeout>;
  readonly #poll: ReturnType<typeof setInterval>;
  #nextKey = 0;
  #version = 0;
  #lastStatus: TaskStatus;
  #ended = false;

  constructor(options: TaskRunOptions) {
    const record = options.record;
    this.taskId = record.taskId;
    this.flavor = record.flavor;
    this.#store = options.store;
    this.#peer = options.peer;
    this.#controller = options.controller;
    this.#webhook = options.webhook;
    this.#onEnd = options.onEnd;
    this.#pollMs = record.pollIntervalMs;
    this.#lastStatus = record.status;
    this.#ttlTimer = setTimeout(
      () => this.#expire(),
      Math.max(0, record.createdAt + record.ttlMs - options.store.clock()),
    );
    unref(this.#ttlTimer);
    // Another instance sharing the store may cancel the task or take its input: look now and then.
    this.#poll = setInterval(() => void this.#check().catch(() => undefined), this.#pollMs);
    unref(this.#poll);
  }

  /** Counts changes, so a waiter can tell whether one happened since it last looked. */
  get version(): number {
    return this.#version;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Aborts when the run ends: requests still out to the client are no longer wanted. */
  get endSignal(): AbortSignal {
    return this.#end.signal;
  }

  /** Resolves at the first change after `seen` or after `ms`; rejects if `signal` aborts. */
  changed(seen: number, ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#version !== seen || this.#ended) return Promise.resolve();
    return waitFor(ms, signal, (wake) => {
      this.#wakers.add(wake);
      return () => this.#wakers.delete(wake);
    });
  }

  #wake(): void {
    this.#version++;
    for (const wake of [...this.#wakers]) wake();
  }

  /** A notification from the handler: a 2025-11-25 task's goes to the session that made it. */
  notify(message: JsonRpcNotification): void {
    if (this.flavor === "legacy" && !this.#ended)
      this.#peer.push?.(relatedTo(message, this.taskId));
  }

  /**
   * A request from the handler to the client; the task waits in `input_required` for it.
   * `name` keys it in the task's `inputRequests` (2026-07-28) unless a pending request has
   * that key; otherwise keys are numbered.
   */
  async ask(method: string, params: JsonObject, name?: string): Promise<JsonObject> {
    if (this.#ended) throw taskEnded();
    const key =
      name !== undefined && this.flavor === "extension" && !this.#asks.has(name)
        ? name
        : `task-input-${this.#nextKey++}`;
    const request =
      this.flavor === "legacy"
        ? relatedTo({ method, params }, this.taskId)
        : { method, params: { ...params } };
    let pending!: PendingAsk;
    const answer = new Promise<JsonObject>((resolve, reject) => {
      pending = { key, method, params: request.params, resolve, reject };
    });
    this.#asks.set(key, pending);
    const updated = await this.#store.update(this.taskId, (record) => {
      const next: TaskRecord = { ...record, status: "input_required" };
      if (this.flavor === "extension") {
        next.inputRequests = { ...record.inputRequests, [key]: { ...request } };
      }
      return next;
    });
    if (!updated?.changed) {
      this.#asks.delete(key);
      if (updated) this.observe(updated.record);
      else this.#expire();
      throw taskEnded();
    }
    if (this.flavor === "legacy") this.#undelivered.push(pending);
    this.#statusChanged(updated.record);
    this.#wake();
    return answer;
  }

  /** The next 2025-11-25 request for a tasks/result stream to carry to the client. */
  takeAsk(): PendingAsk | undefined {
    return this.#undelivered.shift();
  }

  /** A tasks/result stream went away before the client answered: the next one carries it. */
  requeue(ask: PendingAsk): void {
    if (!this.#asks.has(ask.key)) return;
    this.#undelivered.unshift(ask);
    this.#wake();
  }

  /** The client answered (or refused) a 2025-11-25 request. */
  async answered(
    ask: PendingAsk,
    outcome: { answer: JsonObject } | { error: unknown },
  ): Promise<void> {
    if (!this.#asks.delete(ask.key)) return;
    if ("answer" in outcome) ask.resolve(outcome.answer);
    else ask.reject(outcome.error);
    const updated = await this.#store.update(this.taskId, (record) =>
      // Checked at write time: the handler may already have asked again.
      this.#asks.size === 0 && record.status === "input_required"
        ? { ...record, status: "working" }
        : undefined,
    );
    if (updated?.changed) this.#statusChanged(updated.record);
    this.#wake();
  }

  /**
   * Hands the handler the answers tasks/update stored for it (2026-07-28). Called at once by
   * the instance that took the update, and by polling for updates taken by another one.
   */
  async collect(): Promise<void> {
    if (this.#ended) return;
    let taken: Record<string, JsonObject> = {};
    const updated = await this.#store.update(this.taskId, (record) => {
      taken = {};
      const rest: Record<string, JsonObject> = {};
      for (const [key, answer] of Object.entries(record.answers ?? {})) {
        if (this.#asks.has(key)) taken[key] = answer;
        else rest[key] = answer;
      }
      if (Object.keys(taken).length === 0) return undefined;
      const next: TaskRecord = { ...record };
      if (Object.keys(rest).length) next.answers = rest;
      else delete next.answers;
      return next;
    });
    if (!updated) return this.#expire();
    if (isTerminal(updated.record.status)) return this.observe(updated.record);
    if (!updated.changed) return;
    for (const [key, answer] of Object.entries(taken)) {
      const ask = this.#asks.get(key);
      this.#asks.delete(key);
      ask?.resolve(answer);
    }
    this.#statusChanged(updated.record);
    this.#wake();
  }

  /** What the store says now: answers to take, or a terminal status set elsewhere. */
  async #check(): Promise<void> {
    if (this.#ended) return;
    if (this.flavor === "extension" && this.#asks.size > 0) return this.collect();
    const record = await this.#store.peek(this.taskId);
    if (!record) this.#expire();
    else this.observe(record);
  }

  /**
   * Records how the handler ended, unless the task reached a terminal status first; resolves
   * with the task as it then stands.
   */
  async settle(outcome: Outcome): Promise<TaskRecord | undefined> {
    if (this.#ended) return undefined;
    const updated = await this.#store.update(this.taskId, (record) => {
      const next: TaskRecord = { ...record };
      delete next.inputRequests;
      delete next.answers;
      if ("error" in outcome) {
        next.status = "failed";
        next.error = outcome.error;
        next.statusMessage = outcome.error.message;
      } else {
        next.status = "completed";
        next.result = outcome.result;
        const message = errorText(outcome.result);
        if (message !== undefined) next.statusMessage = message;
      }
      return next;
    });
    this.#finish(updated?.record);
    return updated?.record;
  }

  /**
   * Takes note of the task as someone else left it: when it is terminal (cancelled here or by
   * another instance), the handler is told through its signal and the run ends.
   */
  observe(record: TaskRecord | undefined): void {
    if (!record || !isTerminal(record.status) || this.#ended) return;
    this.#controller.abort(
      new McpError(
        ErrorCode.RequestTimeout,
        `Task ${record.status}: ${record.statusMessage ?? ""}`,
      ),
    );
    this.#finish(record);
  }

  /** The task outlived its TTL: its record is gone, so the handler's work is wasted. */
  #expire(): void {
    if (this.#ended) return;
    this.#controller.abort(new McpError(ErrorCode.RequestTimeout, "Task expired"));
    this.#finish(undefined);
  }

  #finish(record: TaskRecord | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#ttlTimer);
    clearInterval(this.#poll);
    for (const ask of this.#asks.values()) ask.reject(taskEnded());
    this.#asks.clear();
    this.#undelivered.length = 0;
    this.#end.abort(taskEnded());
    if (record && isTerminal(record.status)) {
      this.#statusChanged(record);
      this.#sendWebhook(record);
    }
    this.#wake();
    this.#onEnd();
  }

  #statusChanged(record: TaskRecord): void {
    if (record.status === this.#lastStatus) return;
    this.#lastStatus = record.status;
    if (this.flavor !== "legacy") return;
    this.#peer.push?.({
      jsonrpc: "2.0",
      method: "notifications/tasks/status",
      params: legacyTask(record),
    });
  }

  #sendWebhook(record: TaskRecord): void {
    if (!this.#webhook) return;
    const { target, sender } = this.#webhook;
    const data = detailedTask(record);
    void sender.deliver(this.taskId, target, {
      type: `task.${record.status}`,
      timestamp: new Date(this.#store.clock()).toISOString(),
      data,
    });
  }
}
