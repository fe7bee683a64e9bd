import { memoryStore } from "../../storage/memory.ts";
import { isObject } from "../content.ts";
import type { Context } from "../context.ts";
import { ErrorCode, McpError } from "../jsonrpc.ts";
import { type Exchange, type Peer, principalOf } from "../peer.ts";
import type { JsonObject } from "../types.ts";
import { hasLegacyTasks, isModernVersion } from "../versions.ts";
import { ToolCall } from "./call.ts";
import type { TaskOptions } from "./options.ts";
import {
  detailedTask,
  isTaskId,
  isTerminal,
  legacyTask,
  newTaskId,
  RELATED_TASK,
  TASKS_EXTENSION,
  type TaskFlavor,
  type TaskRecord,
  type TaskSupport,
} from "./record.ts";
import { TaskRun, waitFor } from "./run.ts";
import { TaskStore } from "./store.ts";
import {
  requestedWebhook,
  type WebhookOptions,
  WebhookSender,
  type WebhookTarget,
} from "./webhook.ts";

/** What the task machinery needs from the server. */
export interface TaskHost {
  /** The support of an enabled tool by name; undefined for no such tool. */
  taskSupport(name: string): TaskSupport | undefined;
  /** Whether any registered tool may run as a task. */
  offersTasks(): boolean;
  readonly pageSize: number;
  /** Hears every task record this instance writes (for status notifications). */
  changed?(record: TaskRecord): void;
}

/** Largest `inputResponses` a tasks/update may carry, as JSON. */
const MAX_RESPONSES_BYTES = 256 * 1024;

function notFound(): McpError {
  // Unknown, expired and someone else's tasks must be indistinguishable.
  return new McpError(ErrorCode.InvalidParams, "Failed to retrieve task: Task not found");
}

/** Tasks belong to the token's issuer, subject and client; another client of the user sees none. */
function ownerOf(exchange: Exchange): string {
  return principalOf(exchange.auth);
}

/** Whether the client declared the 2026-07-28 tasks extension. */
export function declaresExtension(peer: Peer): boolean {
  const extensions = peer.clientCapabilities?.extensions;
  return isObject(extensions) && isObject(extensions[TASKS_EXTENSION]);
}

/** The error for a tasks request from a client that did not declare the extension. */
export function missingExtension(): McpError {
  return new McpError(
    ErrorCode.MissingRequiredClientCapability,
    `Missing required client capability: the ${TASKS_EXTENSION} extension`,
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
  );
}

/**
 * The tasks of one server: creation from `tools/call`, the `tasks/*` methods of both
 * revisions, the records in a {@link TaskStore}, and the runs of handlers in this process.
 */
export class Tasks {
  /** The records; shared with every instance that uses the same Store. */
  readonly store: TaskStore;
  readonly #host: TaskHost;
  readonly #runs = new Map<string, TaskRun>();
  readonly #defaultTtl: number;
  readonly #maxTtl: number;
  readonly #pollMs: number;
  readonly #handoffMs: number;
  readonly #webhooks: WebhookOptions | false;
  readonly #sender: WebhookSender | undefined;

  constructor(options: TaskOptions, host: TaskHost) {
    // The default store expires records by the same clock as the tasks it holds.
    const clock = options.clock ? { clock: options.clock } : {};
    this.store = new TaskStore(options.store ?? memoryStore(clock), {
      ...(options.maxTasksPerCaller === undefined
        ? {}
        : { maxTasksPerCaller: options.maxTasksPerCaller }),
      ...clock,
      ...(host.changed ? { onChange: (record: TaskRecord) => host.changed?.(record) } : {}),
    });
    this.#host = host;
    this.#maxTtl = options.maxTtlMs ?? 24 * 3_600_000;
    this.#defaultTtl = Math.min(options.defaultTtlMs ?? 3_600_000, this.#maxTtl);
    this.#pollMs = options.pollIntervalMs ?? 1000;
    this.#handoffMs = options.handoffMs ?? 1000;
    this.#webhooks = options.webhooks ?? {};
    this.#sender =
      this.#webhooks === false ? undefined : new WebhookSender(this.#webhooks, this.store.clock);
  }

  /**
   * The `tasks` capability of 2025-11-25, or the extension entry of 2026-07-28; undefined when
   * no tool runs as a task. Only authenticated callers get tasks/list: without an identity
   * there is nothing to list by.
   */
  capability(modern: boolean, authenticated: boolean): JsonObject | undefined {
    if (!this.#host.offersTasks()) return undefined;
    if (modern) return { [TASKS_EXTENSION]: {} };
    const capability: JsonObject = { cancel: {}, requests: { tools: { call: {} } } };
    if (authenticated) capability.list = {};
    return capability;
  }

  /**
   * Decides how a `tools/call` runs: undefined for an ordinary call, a ToolCall when it runs
   * or may come to run as a task. Throws the error the call gets when it cannot run at all.
   * Synchronous for an ordinary call: most calls cost no extra turn here.
   */
  prepare(params: JsonObject, exchange: Exchange, inline: Exchange): Promise<ToolCall> | undefined {
    const support =
      typeof params.name === "string" ? this.#host.taskSupport(params.name) : undefined;
    if (support === undefined) return undefined;
    const peer = exchange.peer;
    const name = String(params.name);
    if (isModernVersion(peer.protocolVersion)) {
      // The extension lets the server decide; the 2025 `task` parameter means nothing here.
      if (support === "forbidden") return undefined;
      if (!declaresExtension(peer)) {
        if (support === "required") throw missingExtension();
        return undefined;
      }
      return this.#call("extension", support, params, exchange, inline, this.#defaultTtl);
    }
    const requested = isObject(params.task);
    if (support === "forbidden") {
      if (requested && hasLegacyTasks(peer.protocolVersion) && this.#host.offersTasks()) {
        throw new McpError(
          ErrorCode.MethodNotFound,
          `Tool "${name}" does not support task-augmented calls`,
        );
      }
      return undefined;
    }
    if (!hasLegacyTasks(peer.protocolVersion) || !requested) {
      if (support === "required") {
        throw new McpError(
          ErrorCode.MethodNotFound,
          `Tool "${name}" must be called as a task (params.task, protocol 2025-11-25)`,
        );
      }
      return undefined;
    }
    const task = params.task as JsonObject;
    const ttl =
      typeof task.ttl === "number" && Number.isFinite(task.ttl) && task.ttl > 0
        ? Math.min(Math.max(Math.round(task.ttl), Math.min(1000, this.#maxTtl)), this.#maxTtl)
        : this.#defaultTtl;
    return this.#call("legacy", support, params, exchange, inline, ttl);
  }

  async #call(
    flavor: TaskFlavor,
    support: TaskSupport,
    params: JsonObject,
    exchange: Exchange,
    inline: Exchange,
    ttlMs: number,
  ): Promise<ToolCall> {
    const meta = isObject(params._meta) ? params._meta : undefined;
    const webhook = await requestedWebhook(meta, this.#webhooks);
    return new ToolCall({
      flavor,
      required: support === "required",
      inline,
      handoffMs: this.#handoffMs,
      create: (controller) => this.#create(flavor, exchange, ttlMs, webhook, controller),
    });
  }

  async #create(
    flavor: TaskFlavor,
    exchange: Exchange,
    ttlMs: number,
    webhook: WebhookTarget | undefined,
    controller: AbortController,
  ): Promise<{ run: TaskRun; record: TaskRecord }> {
    const now = this.store.clock();
    const record: TaskRecord = {
      taskId: newTaskId(),
      owner: ownerOf(exchange),
      flavor,
      status: "working",
      createdAt: now,
      updatedAt: now,
      ttlMs,
      pollIntervalMs: this.#pollMs,
    };
    // Durable before anyone hears of it: a tasks/get right after the reply finds it.
    await this.store.create(record);
    const run = new TaskRun({
      store: this.store,
      record,
      peer: exchange.peer,
      controller,
      webhook: webhook && this.#sender ? { target: webhook, sender: this.#sender } : undefined,
      onEnd: () => this.#runs.delete(record.taskId),
    });
    this.#runs.set(record.taskId, run);
    return { run, record };
  }

  /** Checks that the caller may use a tasks method in its revision. */
  #admit(exchange: Exchange): boolean {
    const peer = exchange.peer;
    const modern = isModernVersion(peer.protocolVersion);
    if (modern && !declaresExtension(peer)) throw missingExtension();
    if (!modern && !hasLegacyTasks(peer.protocolVersion)) {
      throw new McpError(ErrorCode.MethodNotFound, "Tasks need protocol version 2025-11-25");
    }
    return modern;
  }

  async #find(params: JsonObject, exchange: Exchange): Promise<TaskRecord> {
    const record = await this.store.get(params.taskId, ownerOf(exchange));
    if (!record) throw notFound();
    return record;
  }

  /** tasks/get: the task, with its result or input requests inline under 2026-07-28. */
  async get(params: JsonObject, exchange: Exchange): Promise<JsonObject> {
    const modern = this.#admit(exchange);
    const record = await this.#find(params, exchange);
    return modern ? detailedTask(record) : legacyTask(record);
  }

  /**
   * tasks/cancel: moves the task to `cancelled` before answering and aborts its handler.
   * 2025-11-25 refuses a terminal task and answers with the task; 2026-07-28 acknowledges.
   */
  async cancel(params: JsonObject, exchange: Exchange): Promise<JsonObject> {
    const modern = this.#admit(exchange);
    const record = await this.#find(params, exchange);
    const updated = await this.store.update(record.taskId, (current) => {
      const next: TaskRecord = {
        ...current,
        status: "cancelled",
        statusMessage: "The task was cancelled by request.",
      };
      delete next.inputRequests;
      delete next.answers;
      return next;
    });
    if (!updated) throw notFound();
    if (updated.changed) this.#runs.get(record.taskId)?.observe(updated.record);
    if (modern) return {};
    if (!updated.changed) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Cannot cancel task: already in terminal status '${String(legacyTask(updated.record).status)}'`,
      );
    }
    return legacyTask(updated.record);
  }

  /**
   * tasks/update (2026-07-28): answers to outstanding input requests. Keys that are not
   * outstanding are ignored; the task is working again once none is left.
   */
  async update(params: JsonObject, exchange: Exchange): Promise<JsonObject> {
    this.#admit(exchange);
    const record = await this.#find(params, exchange);
    const responses = params.inputResponses;
    if (!isObject(responses)) {
      throw new McpError(
        ErrorCode.InvalidParams,
        "Invalid params: inputResponses must be an object",
      );
    }
    if (JSON.stringify(responses).length > MAX_RESPONSES_BYTES) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `inputResponses exceeds ${MAX_RESPONSES_BYTES} bytes`,
      );
    }
    await this.store.update(record.taskId, (current) => {
      const outstanding = { ...current.inputRequests };
      const answers = { ...current.answers };
      let taken = 0;
      for (const [key, answer] of Object.entries(responses)) {
        if (!Object.hasOwn(outstanding, key) || !isObject(answer)) continue;
        delete outstanding[key];
        answers[key] = answer;
        taken++;
      }
      if (taken === 0) return undefined;
      const next: TaskRecord = { ...current, answers };
      if (Object.keys(outstanding).length) {
        next.inputRequests = outstanding;
      } else {
        delete next.inputRequests;
        next.status = "working";
      }
      return next;
    });
    await this.#runs.get(record.taskId)?.collect();
    return {};
  }

  /** tasks/list (2025-11-25): the caller's own tasks, a page at a time. */
  async list(params: JsonObject, exchange: Exchange): Promise<JsonObject> {
    this.#admit(exchange);
    const owner = ownerOf(exchange);
    if (owner === "") {
      throw new McpError(ErrorCode.MethodNotFound, "tasks/list needs an authenticated caller");
    }
    const { records, nextCursor } = await this.store.list(
      owner,
      params.cursor,
      this.#host.pageSize,
    );
    const tasks = records.map(legacyTask);
    return nextCursor === undefined ? { tasks } : { tasks, nextCursor };
  }

  /**
   * tasks/result (2025-11-25): waits until the task is terminal, then answers exactly as the
   * tool call would have. While it waits, it carries the task's requests to the client.
   */
  async result(params: JsonObject, ctx: Context, exchange: Exchange): Promise<JsonObject> {
    this.#admit(exchange);
    for (;;) {
      const run = isTaskId(params.taskId) ? this.#runs.get(params.taskId) : undefined;
      const seen = run?.version ?? 0;
      const record = await this.#find(params, exchange);
      if (run) this.#carry(run, ctx, exchange);
      if (isTerminal(record.status)) return this.#payload(record);
      await (run && !run.ended
        ? run.changed(seen, record.pollIntervalMs, ctx.signal)
        : waitFor(record.pollIntervalMs, ctx.signal));
    }
  }

  /** Sends the task's pending requests to the client on the tasks/result stream. */
  #carry(run: TaskRun, ctx: Context, exchange: Exchange): void {
    for (let ask = run.takeAsk(); ask; ask = run.takeAsk()) {
      const pending = ask;
      exchange
        .request(pending.method, pending.params, {
          // Given up when this stream goes or when the task ends (a cancel, say).
          signal: AbortSignal.any([ctx.signal, run.endSignal]),
          relatedRequestId: ctx.requestId,
        })
        .then(
          (answer) => run.answered(pending, { answer }),
          (error: unknown) =>
            ctx.signal.aborted ? run.requeue(pending) : run.answered(pending, { error }),
        )
        .catch(() => {});
    }
  }

  #payload(record: TaskRecord): JsonObject {
    if (record.status === "cancelled") {
      throw new McpError(ErrorCode.InvalidParams, "Task was cancelled: it has no result");
    }
    if (record.error)
      throw new McpError(record.error.code, record.error.message, record.error.data);
    const result = record.result ?? {};
    const meta = isObject(result._meta) ? result._meta : {};
    return { ...result, _meta: { ...meta, [RELATED_TASK]: { taskId: record.taskId } } };
  }
}
