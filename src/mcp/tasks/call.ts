import type { TaskControl } from "../context.ts";
import { ErrorCode, McpError } from "../jsonrpc.ts";
import type { Exchange } from "../peer.ts";
import type { JsonObject } from "../types.ts";
import { extensionTask, legacyTask, type TaskFlavor, type TaskRecord } from "./record.ts";
import type { Outcome, TaskRun } from "./run.ts";

/** Creates a call's task: its record in the store and the run that drives it. */
export type CreateTask = (
  controller: AbortController,
) => Promise<{ run: TaskRun; record: TaskRecord }>;

export interface ToolCallOptions {
  flavor: TaskFlavor;
  /** Whether the tool must answer with a task (2026-07-28: even when it finishes at once). */
  required: boolean;
  /** The exchange inline requests go through (a multi round-trip round under 2026-07-28). */
  inline: Exchange;
  /** How long an optional tool runs inline before it becomes a task (2026-07-28). */
  handoffMs: number;
  create: CreateTask;
}

/** How a handler's rejection is recorded: protocol errors as themselves, anything else hidden. */
export function outcomeOf(error: unknown): Outcome {
  if (error instanceof McpError) {
    return {
      error:
        error.data === undefined
          ? { code: error.code, message: error.message }
          : { code: error.code, message: error.message, data: error.data },
    };
  }
  return { error: { code: ErrorCode.InternalError, message: "Internal error" } };
}

/**
 * One `tools/call` that runs, or may come to run, as a task. Its handler talks to the client
 * through `exchange`, which follows the call: inline, requests and notifications go the way
 * of an ordinary request; once the call is a task they go through the task, and the
 * handler's signal stops following the HTTP connection and follows the task instead.
 *
 * 2025-11-25: the client asked for a task, so the task exists before the handler starts.
 * 2026-07-28: the handler starts inline. The call becomes a task when the handler calls
 * `ctx.startTask()`, or when it is still running after the hand-off delay (none for required
 * tools) while not waiting on client input; input asked before then goes through multi
 * round-trip requests. A required tool that finishes inline still answers with a task.
 */
export class ToolCall implements TaskControl {
  readonly exchange: Exchange;
  readonly #options: ToolCallOptions;
  readonly #controller = new AbortController();
  #task: Promise<{ run: TaskRun; record: TaskRecord }> | undefined;
  #run: TaskRun | undefined;
  #pendingInline = 0;
  /** The handler has returned or thrown. */
  #done = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reply: ((result: JsonObject) => void) | undefined;
  #refuse: ((error: unknown) => void) | undefined;

  constructor(options: ToolCallOptions) {
    this.#options = options;
    const inline = options.inline;
    const transport = inline.signal;
    if (transport) {
      // Only the inline phase belongs to the connection: a task outlives it.
      const follow = () => {
        if (!this.#task) this.#controller.abort(transport.reason);
      };
      if (transport.aborted) follow();
      else transport.addEventListener("abort", follow, { once: true });
    }
    const call = this;
    this.exchange = {
      peer: inline.peer,
      http: inline.http,
      auth: inline.auth,
      signal: this.#controller.signal,
      notify: (message) => {
        if (call.#run) call.#run.notify(message);
        else if (call.#task)
          void call.#task.then(
            ({ run }) => run.notify(message),
            () => {},
          );
        else inline.notify(message);
      },
      request: (method, params, requestOptions) => call.#request(method, params, requestOptions),
      get closeConnection() {
        return call.#task ? undefined : inline.closeConnection;
      },
    };
  }

  get taskId(): string | undefined {
    return this.#run?.taskId;
  }

  /** Makes the rest of the call a task; false when the call was already cancelled. */
  async start(): Promise<boolean> {
    if (!this.#task && this.#controller.signal.aborted) return false;
    clearTimeout(this.#timer);
    await this.#handoff();
    return true;
  }

  /** Stops the inline run of a call that did not become a task: its round closed. */
  release(reason: unknown): void {
    if (this.#task) return;
    clearTimeout(this.#timer);
    this.#controller.abort(reason);
  }

  /**
   * Runs the handler. Resolves with what `tools/call` answers: the handler's result, or the
   * task's CreateTaskResult once the call became a task (the handler then goes on).
   */
  async run(start: () => Promise<JsonObject> | JsonObject): Promise<JsonObject> {
    if (this.#options.flavor === "legacy") {
      const { record } = await this.#handoff();
      this.#follow(this.#start(start));
      return this.#view(record);
    }
    const work = this.#start(start);
    return new Promise<JsonObject>((resolve, reject) => {
      this.#reply = resolve;
      this.#refuse = reject;
      this.#timer = setTimeout(
        () => this.#timeUp(),
        this.#options.required ? 0 : this.#options.handoffMs,
      );
      this.#follow(work);
    });
  }

  #start(start: () => Promise<JsonObject> | JsonObject): Promise<JsonObject> {
    try {
      return Promise.resolve(start());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #follow(work: Promise<JsonObject>): void {
    work.then(
      (result) => this.#finished({ result }, undefined),
      (error: unknown) => this.#finished(outcomeOf(error), error),
    );
  }

  async #finished(outcome: Outcome, thrown: unknown): Promise<void> {
    clearTimeout(this.#timer);
    this.#done = true;
    try {
      const inline = !this.#task && (!this.#options.required || this.#controller.signal.aborted);
      if (inline) {
        // Done within the hand-off delay: an ordinary reply, the way it would be without tasks.
        if ("result" in outcome) this.#reply?.(outcome.result);
        else this.#refuse?.(thrown);
        return;
      }
      const { run, record } = await this.#handoff();
      const settled = await run.settle(outcome);
      // A required tool that finished inline answers with its task, already terminal.
      this.#reply?.(this.#view(settled ?? record));
    } catch {
      // The task could not be created or written: the reply, if still owed, says so.
    }
  }

  #timeUp(): void {
    // A handler waiting on inline input is in a multi round-trip round: let that round answer.
    if (this.#task || this.#pendingInline > 0 || this.#controller.signal.aborted) return;
    void this.#handoff().catch(() => {});
  }

  #handoff(): Promise<{ run: TaskRun; record: TaskRecord }> {
    this.#task ??= this.#options.create(this.#controller).then(
      (created) => {
        this.#run = created.run;
        // A handler that already finished is answered with its settled task instead.
        if (!this.#done) this.#reply?.(this.#view(created.record));
        return created;
      },
      (error: unknown) => {
        // Nobody will see what the handler does now: stop it, and fail the call.
        this.#controller.abort(error);
        this.#refuse?.(error);
        throw error;
      },
    );
    return this.#task;
  }

  async #request(
    method: string,
    params: JsonObject,
    options: Parameters<Exchange["request"]>[2],
  ): Promise<JsonObject> {
    if (this.#task) return (await this.#task).run.ask(method, params, options.inputKey);
    this.#pendingInline++;
    try {
      return await this.#options.inline.request(method, params, options);
    } finally {
      this.#pendingInline--;
    }
  }

  #view(record: TaskRecord): JsonObject {
    return this.#options.flavor === "legacy"
      ? { task: legacyTask(record) }
      : { resultType: "task", ...extensionTask(record) };
  }
}
