/**
 * Calling tools in either era, directly or as tasks: callTool waits behind the caller for a
 * task the server made of the call; startTool hands the task over.
 */
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import type { CallToolResult, JsonObject } from "../mcp/types.ts";
import { hasLegacyTasks } from "../mcp/versions.ts";
import type { RequestOptions } from "./connection.ts";
import type { ClientCore } from "./core.ts";
import { TaskError, TransportError } from "./errors.ts";
import type { InboundRequests } from "./inbound.ts";
import type { ListKind, Lists } from "./lists.ts";
import type { CallToolOptions, StartToolOptions } from "./options.ts";
import type { Requests } from "./requests.ts";
import { abortable } from "./signals.ts";
import { parseTask, WEBHOOK_META } from "./task-info.ts";
import { TaskHandle, type TaskOps, type TaskWaitOptions } from "./tasks.ts";
import type { ToolCatalog } from "./tool-catalog.ts";
import type { TaskInfo, Tool } from "./types.ts";

export class ToolCalls {
  readonly #core: ClientCore;
  readonly #requests: Requests;
  readonly #inbound: InboundRequests;
  readonly #catalog: ToolCatalog;
  readonly #lists: Lists;

  constructor(
    core: ClientCore,
    requests: Requests,
    inbound: InboundRequests,
    catalog: ToolCatalog,
    lists: Lists,
  ) {
    this.#core = core;
    this.#requests = requests;
    this.#inbound = inbound;
    this.#catalog = catalog;
    this.#lists = lists;
  }

  /** tools/list, whose pages the catalog takes in. */
  readonly toolList: ListKind<"tools", Tool> = {
    method: "tools/list",
    key: "tools",
    take: (items) => this.#catalog.take(items),
  };

  /** tasks/list (2025-11-25): 2026-07-28 has no such request. */
  readonly taskList: ListKind<"tasks", TaskInfo> = {
    method: "tasks/list",
    key: "tasks",
    check: () => {
      this.#core.live();
      if (this.#core.modern) {
        throw new TaskError("ERR_TASK_UNSUPPORTED", "2026-07-28 has no tasks/list");
      }
    },
    take: (items) => items.map((item) => parseTask(item, "A tasks/list entry")),
  };

  async callTool(
    name: string,
    args: JsonObject,
    options: CallToolOptions,
  ): Promise<CallToolResult> {
    const started = Date.now();
    if (this.#mustRunAsTask(name) || (await this.#byWebhook(name, options))) {
      const task = await this.#startUnseen(name, args, options);
      if (task.info) options.onTask?.(task.info);
      return this.#awaitTask(name, task, options, started);
    }
    const params: JsonObject = { name, arguments: args };
    if (options.meta) params._meta = options.meta;
    const raw = await this.#send(name, args, params, options, options.tasks ?? false);
    if (this.#core.modern && raw.resultType === "task") {
      const info = parseTask(raw, "The tools/call task");
      // The task's input requests belong to this call, as its rounds' do.
      const task = new TaskHandle(
        this.#taskOps(options.signal),
        { task: info },
        { tool: name, transparent: true },
      );
      options.onTask?.(info);
      return this.#awaitTask(name, task, options, started);
    }
    return this.#catalog.result(name, raw);
  }

  /** Calls a tool as a task; `transparent` when callTool does it for a caller who never asked. */
  async startTool(
    name: string,
    args: JsonObject,
    options: StartToolOptions,
    transparent = false,
  ): Promise<TaskHandle> {
    const params: JsonObject = { name, arguments: args };
    const meta: JsonObject = { ...options.meta };
    const inbox = this.#core.options.deliveries;
    // The caller's own webhook wins; else the inbox gives one to tools that deliver only so.
    const slot =
      !options.webhook && inbox && (await this.#byWebhook(name, options))
        ? inbox.open()
        : undefined;
    const webhook = options.webhook ?? slot;
    if (webhook) meta[WEBHOOK_META] = { url: webhook.url, secret: webhook.secret };
    if (Object.keys(meta).length) params._meta = meta;
    const modern = this.#core.modern;
    if (!modern) params.task = options.ttlMs === undefined ? {} : { ttl: options.ttlMs };
    let raw: JsonObject;
    try {
      raw = await this.#send(name, args, params, options, true);
    } catch (error) {
      slot?.close();
      throw error;
    }
    const flags = {
      tool: name,
      transparent,
      ...(slot && { delivery: { slot, fallbackPollMs: inbox?.fallbackPollMs } }),
    };
    if (modern && raw.resultType === "task") {
      return new TaskHandle(
        this.#taskOps(),
        { task: parseTask(raw, "The tools/call task") },
        flags,
      );
    }
    if (!modern && raw.task !== undefined) {
      return new TaskHandle(
        this.#taskOps(),
        { task: parseTask(raw.task, "The tools/call task") },
        flags,
      );
    }
    slot?.close();
    return new TaskHandle(this.#taskOps(), { result: this.#catalog.result(name, raw) }, flags);
  }

  /** A handle on a task by its id; sends nothing until used. */
  task(taskId: string): TaskHandle {
    this.#core.live();
    return new TaskHandle(this.#taskOps(), { taskId });
  }

  /**
   * Whether the call goes to the client's delivery inbox: the tool is listed as delivering by
   * webhook. A tool not listed yet is looked up with one tools/list.
   */
  async #byWebhook(name: string, options: RequestOptions): Promise<boolean> {
    if (!this.#core.options.deliveries) return false;
    if (!this.#catalog.knows(name)) {
      for await (const _tool of this.#lists.all(this.toolList, options)) {
        // Listing records each tool's delivery.
      }
    }
    return this.#catalog.deliversByWebhook(name);
  }

  /** Whether a 2025-11-25 server listed the tool as callable only as a task. */
  #mustRunAsTask(name: string): boolean {
    return (
      hasLegacyTasks(this.#core.negotiated?.protocolVersion ?? "") &&
      this.#catalog.requiresTask(name)
    );
  }

  /**
   * Starts a 2025-11-25 task for callTool. The caller's signal stays off the tools/call: the
   * task exists on the server before the reply, so a call aborted on its way would leave it
   * running unseen. Aborting releases the caller at once and cancels the task once known.
   */
  async #startUnseen(
    name: string,
    args: JsonObject,
    options: CallToolOptions,
  ): Promise<TaskHandle> {
    const { signal, ...rest } = options;
    const starting = this.startTool(name, args, rest, true);
    if (!signal) return starting;
    try {
      return await abortable(starting, signal);
    } catch (error) {
      if (signal.aborted) {
        starting
          .then((task) => task.cancel())
          .catch((failed: unknown) =>
            this.#core.warn({
              code: "task_cancel_failed",
              message: `Could not cancel the task of tool "${name}" after its call was given up`,
              detail: failed,
            }),
          );
      }
      throw error;
    }
  }

  /** Waits for a task callTool got instead of a result, within the call's time limits. */
  async #awaitTask(
    name: string,
    task: TaskHandle,
    options: CallToolOptions,
    started: number,
  ): Promise<CallToolResult> {
    const wait: TaskWaitOptions = {};
    if (options.timeoutMs !== undefined) wait.timeoutMs = options.timeoutMs;
    const limit = options.maxTotalTimeoutMs;
    if (limit === undefined) {
      if (options.signal) wait.signal = options.signal;
      return task.result(wait);
    }
    const deadline = new AbortController();
    const timer = setTimeout(
      () =>
        deadline.abort(
          new TransportError(
            "ERR_TIMEOUT",
            `No result from tool "${name}" within ${limit} ms (maxTotalTimeoutMs)`,
          ),
        ),
      Math.max(0, started + limit - Date.now()),
    );
    wait.signal = options.signal
      ? AbortSignal.any([options.signal, deadline.signal])
      : deadline.signal;
    try {
      return await task.result(wait);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What a TaskHandle made now needs from this client; `callSignal` is its call's signal. */
  #taskOps(callSignal?: AbortSignal): TaskOps {
    const core = this.#core;
    return {
      modern: core.modern,
      request: (method, params, options) => this.#requests.call(method, params, options, {}, true),
      answer: (key, request, signal) => this.#inbound.answer(key, request, signal, callSignal),
      complete: (result, tool) => this.#catalog.result(tool, result),
      life: () => core.life.signal,
      warn: (warning) => core.warn(warning),
    };
  }

  /**
   * tools/call, with the tool's Mcp-Param-* headers in 2026-07-28. A HeaderMismatch means
   * the tool's schema changed since it was listed (or it never was): list again, send again.
   */
  async #send(
    name: string,
    args: JsonObject,
    params: JsonObject,
    options: RequestOptions,
    tasks: boolean,
  ): Promise<JsonObject> {
    const send = () => {
      const headers = this.#catalog.headers(name, args);
      // Sent again after a network failure or a 5xx only when the tool says that is harmless.
      const retry = this.#catalog.repeatable(name);
      return this.#requests.call("tools/call", params, options, { headers, retry }, tasks);
    };
    if (!this.#core.modern) return send();
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof McpError) || error.code !== ErrorCode.HeaderMismatch) throw error;
      const before = this.#catalog.headerFingerprint(name);
      for await (const _tool of this.#lists.all(this.toolList, options)) {
        // Listing records every tool's header arguments afresh.
      }
      if (this.#catalog.headerFingerprint(name) === before) throw error;
      return send();
    }
  }
}
