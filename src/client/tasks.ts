/**
 * Tasks seen from the client: long-running tool calls the server answers with a handle to
 * poll. Both eras share one handle: the experimental tasks of 2025-11-25 (tasks/get,
 * tasks/result, tasks/cancel) and the `io.modelcontextprotocol/tasks` extension of 2026-07-28
 * (tasks/get with the result inline, tasks/update for input, tasks/cancel).
 */
import { McpError } from "../mcp/jsonrpc.ts";
import type { CallToolResult, JsonObject } from "../mcp/types.ts";
import type { RequestOptions } from "./connection.ts";
import { DEFAULT_FALLBACK_POLL_MS, type DeliverySlot } from "./deliveries.ts";
import { type ClientWarning, ProtocolError, TaskError, TransportError } from "./errors.ts";
import { abortable, sleep } from "./signals.ts";
import { isTerminal, parseTask } from "./task-info.ts";
import type { TaskInfo, TaskStatus } from "./types.ts";

/** Between polls when neither the caller nor the server says. */
const DEFAULT_POLL_MS = 1000;
/** Bounds on the interval a server suggests: no busy loop, no wait of hours between looks. */
const MIN_POLL_MS = 10;
const MAX_POLL_MS = 60_000;
/** How often a 2025-11-25 tasks/result whose stream dropped is sent again. */
const RESULT_RETRIES = 3;

/** How `TaskHandle.result()` waits. */
export interface TaskWaitOptions {
  /**
   * Stops waiting, rejecting with the signal's reason. The task goes on: `cancel()` stops it.
   */
  signal?: AbortSignal;
  /** Time between polls (2026-07-28). Default: what the server suggests, else 1 s. */
  pollIntervalMs?: number;
  /**
   * Time limit of each request made while waiting. Default: the client's `requestTimeoutMs`;
   * none for the 2025-11-25 tasks/result, which waits for the end by design.
   */
  timeoutMs?: number;
  /**
   * Answer a 2026-07-28 task's input requests with the client's handlers, as a call's multi
   * round-trip requests are. Default true; false leaves them to `update()` and keeps polling.
   */
  answerInput?: boolean;
}

/** What a TaskHandle needs from the client that made it. */
export interface TaskOps {
  /** Whether the connection speaks 2026-07-28. */
  readonly modern: boolean;
  /** Sends a request, with the tasks extension declared under 2026-07-28. */
  request(method: string, params: JsonObject, options: RequestOptions): Promise<JsonObject>;
  /** Answers one 2026-07-28 input request with the client's handlers. */
  answer(key: string, request: unknown, signal: AbortSignal): Promise<JsonObject>;
  /** Checks a tool result as callTool does: its content list, and the tool's outputSchema. */
  complete(result: JsonObject, tool: string | undefined): CallToolResult;
  /** Aborts when the client closes. */
  life(): AbortSignal;
  warn(warning: ClientWarning): void;
}

/** How a handle came to be. */
export type TaskOrigin = { task: TaskInfo } | { taskId: string } | { result: CallToolResult };

/**
 * A tool call running as a task on the server, in either era. Made by `McpClient.startTool`
 * (or `McpClient.task(id)` for a task some earlier caller started).
 *
 * ```ts
 * const task = await client.startTool("render", { scene: "a" }, { ttlMs: 600_000 });
 * const result = await task.result({ signal: AbortSignal.timeout(300_000) });
 * ```
 */
export class TaskHandle {
  /**
   * The task id, which any client of the same caller can take up later; undefined when the
   * server answered the call at once without making a task (then `result()` holds it).
   */
  readonly id: string | undefined;
  readonly #ops: TaskOps;
  readonly #modern: boolean;
  readonly #tool: string | undefined;
  /** Started by callTool on the caller's behalf: fails like the call, and cancels when left. */
  readonly #transparent: boolean;
  readonly #settled: CallToolResult | undefined;
  /** Where the server sends this task's result by webhook, when the client has an inbox. */
  readonly #slot: DeliverySlot | undefined;
  readonly #fallbackMs: number;
  /** Input requests already answered, so a poll that races an update does not answer twice. */
  readonly #answered = new Set<string>();
  #info: TaskInfo | undefined;

  /** Made by McpClient; not for callers. */
  constructor(
    ops: TaskOps,
    origin: TaskOrigin,
    options: {
      tool?: string | undefined;
      transparent?: boolean;
      delivery?: { slot: DeliverySlot; fallbackPollMs?: number | undefined };
    } = {},
  ) {
    this.#ops = ops;
    this.#slot = options.delivery?.slot;
    this.#fallbackMs = options.delivery?.fallbackPollMs ?? DEFAULT_FALLBACK_POLL_MS;
    this.#modern = ops.modern;
    this.#tool = options.tool;
    this.#transparent = options.transparent ?? false;
    if ("result" in origin) {
      this.id = undefined;
      this.#settled = origin.result;
    } else if ("task" in origin) {
      this.id = origin.task.taskId;
      this.#info = origin.task;
    } else {
      this.id = origin.taskId;
    }
  }

  /**
   * The status last seen: from the call that created the task, or the latest poll; undefined
   * for a handle taken up by id that has not polled yet.
   */
  get status(): TaskStatus | undefined {
    return this.#settled ? "completed" : this.#info?.status;
  }

  /** The task as last seen, or undefined (see `status`). */
  get info(): TaskInfo | undefined {
    return this.#info && { ...this.#info };
  }

  /** Asks the server where the task stands (tasks/get). */
  async poll(options: RequestOptions = {}): Promise<TaskInfo> {
    const id = this.#id("poll");
    const raw = await this.#ops.request("tasks/get", { taskId: id }, options);
    const info = parseTask(raw, "The tasks/get result");
    if (info.taskId !== id) {
      throw new ProtocolError(
        "ERR_CONTRACT",
        `tasks/get for ${id} answered with task ${info.taskId}`,
      );
    }
    this.#info = info;
    return { ...info };
  }

  /**
   * Waits for the task to end and resolves with the tool's result, as callTool would have
   * (a tool error is a result with `isError`). Rejects with a TaskError when the task failed
   * with a protocol error (ERR_TASK_FAILED, `rpcError`) or was cancelled (ERR_TASK_CANCELLED).
   * 2026-07-28: polls tasks/get at the server's pace, answering input requests with the
   * client's handlers (see `answerInput`). 2025-11-25: one tasks/result, on whose stream the
   * server's elicitation and sampling requests reach the handlers.
   */
  async result(options: TaskWaitOptions = {}): Promise<CallToolResult> {
    if (this.#settled) return this.#settled;
    const life = this.#ops.life();
    const signal = options.signal ? AbortSignal.any([options.signal, life]) : life;
    try {
      return this.#modern
        ? await this.#waitModern(options, signal)
        : await this.#waitLegacy(options, signal);
    } catch (error) {
      // A caller of callTool never asked for a task: one it leaves must not run on unseen.
      if (this.#transparent && !isTerminal(this.#info?.status) && !(error instanceof McpError)) {
        this.cancel().catch((failed: unknown) =>
          this.#ops.warn({
            code: "task_cancel_failed",
            message: `Could not cancel task ${this.id} after its call was given up`,
            detail: failed,
          }),
        );
      }
      throw error;
    } finally {
      this.#slot?.close();
    }
  }

  /**
   * Cancels the task (tasks/cancel); the server aborts its handler. 2026-07-28 servers
   * acknowledge cancelling a task that already ended and change nothing; 2025-11-25 ones
   * refuse it with an McpError. A handle without a task has nothing to cancel.
   */
  async cancel(options: RequestOptions = {}): Promise<void> {
    if (this.#settled) return;
    const id = this.#id("cancel");
    const raw = await this.#ops.request("tasks/cancel", { taskId: id }, options);
    if (this.#modern) {
      if (this.#info && !isTerminal(this.#info.status)) {
        this.#info = { ...this.#info, status: "cancelled" };
      }
      return;
    }
    this.#info = parseTask(raw, "The tasks/cancel result");
  }

  /**
   * Answers input a 2026-07-28 task waits on (its `inputRequests` in `input_required`), by
   * key; keys the task is not waiting on are ignored by the server. 2025-11-25 tasks take
   * input through tasks/result instead: there this rejects with ERR_TASK_UNSUPPORTED.
   */
  async update(
    inputResponses: Record<string, JsonObject>,
    options: RequestOptions = {},
  ): Promise<void> {
    const id = this.#id("update");
    if (!this.#modern) {
      throw new TaskError(
        "ERR_TASK_UNSUPPORTED",
        "2025-11-25 tasks have no tasks/update: their input is answered through result()",
        { taskId: id },
      );
    }
    await this.#ops.request("tasks/update", { taskId: id, inputResponses }, options);
    for (const key of Object.keys(inputResponses)) this.#answered.add(key);
  }

  #id(operation: string): string {
    if (this.id !== undefined) return this.id;
    throw new TaskError(
      "ERR_NO_TASK",
      `Cannot ${operation}: the server answered the call at once, without a task; result() holds its result`,
    );
  }

  #interval(options: TaskWaitOptions): number {
    const asked = options.pollIntervalMs;
    if (asked !== undefined && Number.isFinite(asked) && asked >= 0) return asked;
    // Deliveries are the way the result comes; polls only catch one that never does.
    if (this.#slot) return this.#fallbackMs;
    const suggested = this.#info?.pollIntervalMs;
    if (suggested === undefined) return DEFAULT_POLL_MS;
    return Math.min(Math.max(suggested, MIN_POLL_MS), MAX_POLL_MS);
  }

  #requestOptions(options: TaskWaitOptions, signal: AbortSignal): RequestOptions {
    return options.timeoutMs === undefined ? { signal } : { signal, timeoutMs: options.timeoutMs };
  }

  async #waitModern(options: TaskWaitOptions, signal: AbortSignal): Promise<CallToolResult> {
    const request = this.#requestOptions(options, signal);
    let info = this.#info;
    // A task that ended at once is reported so by tools/call, whose task has no result or
    // error inline: only tasks/get carries them.
    const bare = info && isTerminal(info.status) && !info.result && !info.error;
    if (!info || (bare && info.status !== "cancelled")) info = await this.poll(request);
    for (;;) {
      if (isTerminal(info.status)) return this.#outcome(info);
      if (info.status === "input_required" && options.answerInput !== false) {
        const pending = Object.entries(info.inputRequests ?? {}).filter(
          ([key]) => !this.#answered.has(key),
        );
        if (pending.length) {
          const answers = await abortable(
            Promise.all(pending.map(([key, asked]) => this.#ops.answer(key, asked, signal))),
            signal,
          );
          await this.update(
            Object.fromEntries(pending.map(([key], i) => [key, answers[i] as JsonObject])),
            request,
          );
          // The answers may have been all the task waited for: look again at once.
          info = await this.poll(request);
          continue;
        }
      }
      info = (await this.#delivered(this.#interval(options), signal)) ?? (await this.poll(request));
    }
  }

  /**
   * Waits `ms` for the next poll, or less when the task's webhook delivery comes first: then
   * resolves with the task it carried. Rejects when `signal` aborts.
   */
  async #delivered(ms: number, signal: AbortSignal): Promise<TaskInfo | undefined> {
    const slot = this.#slot;
    if (!slot || this.id === undefined) {
      if (!(await sleep(ms, signal))) throw signal.reason;
      return undefined;
    }
    const pause = new AbortController();
    const both = AbortSignal.any([signal, pause.signal]);
    try {
      const winner = await Promise.race([
        slot.expect(this.id).then((data) => parseTask(data, "The webhook's task")),
        sleep(ms, both).then(() => undefined),
      ]);
      if (signal.aborted) throw signal.reason;
      if (winner) this.#info = winner;
      return winner;
    } finally {
      pause.abort();
    }
  }

  #outcome(info: TaskInfo): CallToolResult {
    const id = info.taskId;
    if (info.status === "completed" || (info.status === "failed" && !info.error && info.result)) {
      if (!info.result) {
        throw new ProtocolError("ERR_CONTRACT", `Task ${id} completed without a result`);
      }
      return this.#ops.complete(info.result, this.#tool);
    }
    if (info.status === "cancelled") {
      throw new TaskError("ERR_TASK_CANCELLED", `Task ${id} was cancelled`, {
        taskId: id,
        status: info.status,
      });
    }
    const error = info.error;
    // What the call would have thrown, had it not become a task.
    if (error && this.#transparent) throw new McpError(error.code, error.message, error.data);
    const reason = error?.message ?? info.statusMessage;
    throw new TaskError(
      "ERR_TASK_FAILED",
      `Task ${id} failed${reason === undefined ? "" : `: ${reason}`}`,
      { taskId: id, status: info.status, ...(error && { rpcError: error }) },
    );
  }

  async #waitLegacy(options: TaskWaitOptions, signal: AbortSignal): Promise<CallToolResult> {
    const id = this.#id("wait");
    const request: RequestOptions = {
      signal,
      timeoutMs: options.timeoutMs ?? Number.POSITIVE_INFINITY,
    };
    // With a webhook on the way, tasks/result (which holds a stream open until the end) waits
    // until a poll finds the task wanting input, or ended without the delivery arriving.
    while (this.#slot) {
      const delivered = await this.#delivered(this.#interval(options), signal);
      if (delivered) return this.#outcome(delivered);
      if ((await this.poll({ signal })).status !== "working") break;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const payload = await this.#ops.request("tasks/result", { taskId: id }, request);
        // 2025-11-25 reports a tool error as `failed`, with its result all the same.
        const status: TaskStatus = payload.isError === true ? "failed" : "completed";
        this.#info = { ...(this.#info ?? { taskId: id }), status };
        return this.#ops.complete(payload, this.#tool);
      } catch (error) {
        if (error instanceof McpError) throw await this.#explain(error, signal);
        const dropped = error instanceof TransportError && error.code === "ERR_STREAM_ENDED";
        if (!dropped || attempt >= RESULT_RETRIES || signal.aborted) throw error;
        if (!(await sleep(this.#interval(options), signal))) throw signal.reason;
      }
    }
  }

  /**
   * A 2025-11-25 tasks/result error: the task's own (failed), or no result at all (cancelled,
   * unknown). tasks/get tells which.
   */
  async #explain(error: McpError, signal: AbortSignal): Promise<Error> {
    const info = await this.poll({ signal }).catch(() => undefined);
    const taskId = this.id;
    if (info?.status === "cancelled") {
      return new TaskError("ERR_TASK_CANCELLED", `Task ${taskId} was cancelled`, {
        taskId: info.taskId,
        status: info.status,
      });
    }
    if (info?.status === "failed" && !this.#transparent) {
      return new TaskError("ERR_TASK_FAILED", `Task ${taskId} failed: ${error.message}`, {
        taskId: info.taskId,
        status: info.status,
        rpcError: error.toJSON(),
      });
    }
    return error;
  }
}
