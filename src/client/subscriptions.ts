/**
 * Resource subscriptions and list-change delivery in either era: 2025 resources/subscribe on
 * the session (restored when the session is replaced), or the one 2026-07-28
 * subscriptions/listen stream, which also carries the list changes the hooks ask for.
 */
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts";
import type { JsonObject } from "../mcp/types.ts";
import type { Connection, RequestOptions } from "./connection.ts";
import type { ClientCore } from "./core.ts";
import { TaskError } from "./errors.ts";
import { ListenStream, type Routing } from "./listen-stream.ts";
import { type ReconnectOptions, resolveReconnect } from "./reconnect.ts";
import type { Requests } from "./requests.ts";

export class Subscriptions {
  readonly #core: ClientCore;
  readonly #requests: Requests;
  /** 2025 subscriptions, restored when a session is replaced. */
  readonly #uris = new Set<string>();
  /** The subscriptions/listen stream (2026-07-28). */
  #listen: ListenStream | undefined;
  #reconnect: ReconnectOptions | undefined;

  constructor(core: ClientCore, requests: Requests) {
    this.#core = core;
    this.#requests = requests;
  }

  /** A new connection starts with no subscriptions; `reconnect` is its stream's policy. */
  reset(reconnect: ReconnectOptions | undefined, closed: Error): void {
    this.#uris.clear();
    this.#listen?.close(closed);
    this.#listen = undefined;
    this.#reconnect = reconnect;
  }

  async subscribe(uri: string, options: RequestOptions): Promise<void> {
    if (this.#core.modern) {
      this.#core.live();
      this.#core.checkCapability("resources/subscribe");
      await this.#stream().subscribe(uri, options);
      return;
    }
    await this.#requests.call("resources/subscribe", { uri }, options);
    this.#uris.add(uri);
  }

  async unsubscribe(uri: string, options: RequestOptions): Promise<void> {
    if (this.#core.modern) {
      this.#core.live();
      await this.#stream().unsubscribe(uri, options);
      return;
    }
    await this.#requests.call("resources/unsubscribe", { uri }, options);
    this.#uris.delete(uri);
  }

  /** Subscribes a new 2025 session to what the one it replaced was subscribed to. */
  async restore(connection: Connection): Promise<void> {
    for (const uri of this.#uris) {
      await connection.request("resources/subscribe", { uri }, {}, { recover: false });
    }
  }

  /** Opens the stream for the list-changed hooks (2026-07-28), if any; a failure is a warning. */
  async listen(opening: RequestOptions): Promise<void> {
    const options = this.#core.options;
    if (!options.onToolsChanged && !options.onPromptsChanged && !options.onResourcesChanged) {
      return;
    }
    try {
      await this.#stream().refresh(opening);
    } catch (error) {
      this.#core.warn({
        code: "subscription_failed",
        message: "Could not open the subscriptions/listen stream for list changes",
        detail: error,
      });
    }
  }

  /** What a notification is to the 2026-07-28 stream ("unrelated" for any other). */
  route(notification: JsonRpcNotification): Routing {
    return this.#listen?.route(notification) ?? "unrelated";
  }

  /**
   * Asks for a task's status notifications on the 2026-07-28 stream (see `onTaskStatus`);
   * resolves once the server acknowledged them. 2025 revisions: ERR_TASK_UNSUPPORTED.
   */
  async watchTask(taskId: string, options: RequestOptions): Promise<void> {
    this.#core.live();
    if (!this.#core.modern) {
      throw new TaskError(
        "ERR_TASK_UNSUPPORTED",
        "Task status notifications need protocol 2026-07-28 (subscriptions/listen)",
        { taskId },
      );
    }
    await this.#stream().watchTask(taskId, options);
  }

  async unwatchTask(taskId: string, options: RequestOptions): Promise<void> {
    if (this.#core.modern) await this.#listen?.unwatchTask(taskId, options);
  }

  /** Whether status notifications of `taskId` were asked for on the 2026-07-28 stream. */
  watchesTask(taskId: string): boolean {
    return this.#listen?.watchesTask(taskId) ?? false;
  }

  /** Whether updates of `uri` were asked for on the 2026-07-28 stream. */
  watches(uri: string): boolean {
    return this.#listen?.watches(uri) ?? false;
  }

  close(error: Error): void {
    this.#listen?.close(error);
  }

  #stream(): ListenStream {
    const core = this.#core;
    this.#listen ??= new ListenStream({
      open: (filter, signal, onId) =>
        this.#requests.call(
          "subscriptions/listen",
          { notifications: filter as JsonObject },
          { signal, timeoutMs: Number.POSITIVE_INFINITY },
          { onId, recover: false },
          // Task status needs the tasks extension declared on the stream's request.
          filter.taskIds !== undefined,
        ),
      lists: () => ({
        tools: core.options.onToolsChanged !== undefined,
        prompts: core.options.onPromptsChanged !== undefined,
        resources: core.options.onResourcesChanged !== undefined,
      }),
      warn: (warning) => core.warn(warning),
      timeoutMs: core.requestTimeoutMs,
      reconnect: resolveReconnect(this.#reconnect),
    });
    return this.#listen;
  }
}
