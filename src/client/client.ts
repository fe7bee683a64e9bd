import { isObject } from "../mcp/content.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import {
  type CallToolResult,
  type GetPromptResult,
  type Implementation,
  type JsonObject,
  LOGGING_LEVELS,
  type LoggingLevel,
  type ReadResourceResult,
} from "../mcp/types.ts";
import type { RequestOptions } from "./connection.ts";
import { ClientCore } from "./core.ts";
import { InboundRequests } from "./inbound.ts";
import { Lifecycle } from "./lifecycle.ts";
import { Lists, PROMPTS, RESOURCE_TEMPLATES, RESOURCES } from "./lists.ts";
import { deliverNotification } from "./notifications.ts";
import type {
  CallToolOptions,
  ClientMiddleware,
  ConnectOptions,
  McpClientOptions,
  StartToolOptions,
} from "./options.ts";
import { Requests } from "./requests.ts";
import { Subscriptions } from "./subscriptions.ts";
import type { TaskHandle } from "./tasks.ts";
import { ToolCatalog } from "./tool-catalog.ts";
import { ToolCalls } from "./tools.ts";
import type { ClientTransport } from "./transport.ts";
import type {
  CompleteResult,
  CompletionReference,
  ListPromptsResult,
  ListResourcesResult,
  ListResourceTemplatesResult,
  ListTasksResult,
  ListToolsResult,
  Prompt,
  Resource,
  ResourceTemplate,
  TaskInfo,
  Tool,
} from "./types.ts";

/**
 * An MCP client: connects to one server over Streamable HTTP (a URL) or any ClientTransport,
 * finds the revision both speak (2026-07-28, stateless, or a 2025 one with a session), and
 * offers the server's tools, resources and prompts as typed calls that behave the same in
 * either era. Lenient with servers by default; see `strict`.
 *
 * ```ts
 * const client = new McpClient({ name: "my-agent", version: "1.0.0" });
 * await client.connect("https://example.com/mcp");
 * for await (const tool of client.tools()) console.log(tool.name);
 * const result = await client.callTool("add", { a: 1, b: 2 }, { timeoutMs: 10_000 });
 * ```
 */
export class McpClient {
  readonly #core: ClientCore;
  readonly #requests: Requests;
  readonly #lifecycle: Lifecycle;
  readonly #lists: Lists;
  readonly #tools: ToolCalls;
  readonly #subscriptions: Subscriptions;

  constructor(options: McpClientOptions) {
    const core = new ClientCore(options);
    const inbound = new InboundRequests(core);
    const requests = new Requests(core, inbound);
    const catalog = new ToolCatalog(core);
    const subscriptions = new Subscriptions(core, requests);
    this.#core = core;
    this.#requests = requests;
    this.#subscriptions = subscriptions;
    this.#lists = new Lists(core, (method, params, options) =>
      requests.call(method, params, options),
    );
    this.#tools = new ToolCalls(core, requests, inbound, catalog, this.#lists);
    this.#lifecycle = new Lifecycle(core, {
      inbound,
      subscriptions,
      catalog,
      notified: (notification) => deliverNotification(notification, core, subscriptions, catalog),
    });
  }

  // Connection

  /**
   * Connects to a server: a URL (Streamable HTTP) or a transport. With a `state` store that
   * holds a session the server still knows, the session is taken up without a new initialize;
   * one that remembers a 2025 server skips the 2026-07-28 probe. With 2026-07-28 and any of
   * the list-changed hooks set, the subscriptions/listen stream is open once this resolves.
   */
  connect(target: string | URL | ClientTransport, options: ConnectOptions = {}): Promise<void> {
    return this.#lifecycle.connect(target, options);
  }

  /**
   * Closes the connection. By default the server's session ends too (HTTP DELETE) and the
   * stored session is forgotten, keeping only the revision (the server's era) for the next
   * connect; `terminate: false` keeps both, to resume from another process.
   */
  close(options: { terminate?: boolean } = {}): Promise<void> {
    return this.#lifecycle.close(options);
  }

  /** Whether the client is connected and the connection is open. */
  get connected(): boolean {
    const connection = this.#core.connection;
    return connection !== undefined && !connection.closed;
  }

  /** The protocol revision in use: 2026-07-28, or the one negotiated at initialize. */
  get protocolVersion(): string | undefined {
    return this.#core.negotiated?.protocolVersion;
  }

  get serverInfo(): Implementation | undefined {
    return this.#core.negotiated?.serverInfo;
  }

  get serverCapabilities(): JsonObject | undefined {
    return this.#core.negotiated?.serverCapabilities;
  }

  /** The extensions the server declared (SEP-2133) with their settings; empty before connect. */
  get extensions(): Readonly<Record<string, JsonObject>> {
    const declared = this.#core.negotiated?.serverCapabilities.extensions;
    return isObject(declared) ? (declared as Record<string, JsonObject>) : {};
  }

  /** The settings of an extension the server declared, or undefined when it did not. */
  extension(id: string): JsonObject | undefined {
    const settings = this.extensions[id];
    return isObject(settings) ? settings : undefined;
  }

  get instructions(): string | undefined {
    return this.#core.negotiated?.instructions;
  }

  /** The 2025 session id, when the server keeps sessions. */
  get sessionId(): string | undefined {
    return this.#core.connection?.transport.sessionId;
  }

  /**
   * Adds a middleware around every request this client sends (handshake included), in both
   * eras and on every transport; the first added is the outermost.
   */
  use(middleware: ClientMiddleware): this {
    this.#core.middleware.push(middleware);
    return this;
  }

  // Requests

  /**
   * Sends any request and resolves with its result: for methods this class has no call for.
   * In 2026-07-28 the request carries the per-request `_meta`, and input the server asks for
   * is answered by the handlers before the result comes back.
   */
  request(
    method: string,
    params: JsonObject = {},
    options: RequestOptions = {},
  ): Promise<JsonObject> {
    return this.#requests.call(method, params, options);
  }

  /** Sends any notification. */
  async notify(method: string, params?: JsonObject): Promise<void> {
    await this.#core.live().notify(method, params);
  }

  // Lists

  /**
   * One page of tools; remembers their output schemas to check results against and, in
   * 2026-07-28, the arguments to mirror into headers. A tool whose `x-mcp-header` annotations
   * break the spec's rules is left out, with an "invalid_tool" warning.
   */
  listTools(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListToolsResult> {
    return this.#lists.page(this.#tools.toolList, params, options);
  }

  /** Every tool, across pages. */
  tools(options: RequestOptions = {}): AsyncGenerator<Tool> {
    return this.#lists.all(this.#tools.toolList, options);
  }

  listResources(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListResourcesResult> {
    return this.#lists.page(RESOURCES, params, options);
  }

  /** Every resource, across pages. */
  resources(options: RequestOptions = {}): AsyncGenerator<Resource> {
    return this.#lists.all(RESOURCES, options);
  }

  listResourceTemplates(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListResourceTemplatesResult> {
    return this.#lists.page(RESOURCE_TEMPLATES, params, options);
  }

  /** Every resource template, across pages. */
  resourceTemplates(options: RequestOptions = {}): AsyncGenerator<ResourceTemplate> {
    return this.#lists.all(RESOURCE_TEMPLATES, options);
  }

  listPrompts(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListPromptsResult> {
    return this.#lists.page(PROMPTS, params, options);
  }

  /** Every prompt, across pages. */
  prompts(options: RequestOptions = {}): AsyncGenerator<Prompt> {
    return this.#lists.all(PROMPTS, options);
  }

  // Tools and tasks

  /**
   * Calls a tool. A tool error comes back as a result with `isError`; protocol errors
   * (unknown tool, bad params) reject with McpError. When the tool was listed with an
   * outputSchema, structuredContent is checked against it (see StrictOptions.outputSchema).
   *
   * A call the server turns into a task (2026-07-28, see `tasks`) is waited for behind the
   * caller, as is a 2025-11-25 tool listed as needing one: the result, or the error, is the
   * one the call would have had. The signal then cancels the task, `timeoutMs` bounds each
   * request and `maxTotalTimeoutMs` the whole wait.
   */
  callTool(
    name: string,
    args: JsonObject = {},
    options: CallToolOptions = {},
  ): Promise<CallToolResult> {
    return this.#tools.callTool(name, args, options);
  }

  /**
   * Calls a tool as a task and resolves with its handle once the server has taken it on:
   * under 2025-11-25 with `params.task` (the tool must allow tasks), under 2026-07-28 with
   * the tasks extension declared (the server decides; an optional tool that finishes at once
   * is answered with its result, and so is a server without tasks: the handle then has no id
   * and `result()` holds the result).
   */
  startTool(
    name: string,
    args: JsonObject = {},
    options: StartToolOptions = {},
  ): Promise<TaskHandle> {
    return this.#tools.startTool(name, args, options);
  }

  /** A handle on a task by its id (one an earlier process started, say); sends nothing yet. */
  task(taskId: string): TaskHandle {
    return this.#tools.task(taskId);
  }

  /**
   * Asks for a task's status notifications (2026-07-28, on the subscriptions/listen stream,
   * declaring the tasks extension): each change reaches `onTaskStatus` with the task's whole
   * state. Resolves once the server acknowledged it; polling still works alongside.
   */
  watchTask(taskId: string, options: RequestOptions = {}): Promise<void> {
    return this.#subscriptions.watchTask(taskId, options);
  }

  /** Stops a task's status notifications. */
  unwatchTask(taskId: string, options: RequestOptions = {}): Promise<void> {
    return this.#subscriptions.unwatchTask(taskId, options);
  }

  /** Where a task stands (tasks/get). */
  getTask(taskId: string, options: RequestOptions = {}): Promise<TaskInfo> {
    return this.task(taskId).poll(options);
  }

  /** Cancels a task (tasks/cancel); see `TaskHandle.cancel`. */
  cancelTask(taskId: string, options: RequestOptions = {}): Promise<void> {
    return this.task(taskId).cancel(options);
  }

  /** One page of the caller's tasks (tasks/list, 2025-11-25 only: else ERR_TASK_UNSUPPORTED). */
  listTasks(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListTasksResult> {
    return this.#lists.page(this.#tools.taskList, params, options);
  }

  /** Every task of the caller, across pages (2025-11-25). */
  tasks(options: RequestOptions = {}): AsyncGenerator<TaskInfo> {
    return this.#lists.all(this.#tools.taskList, options);
  }

  // Resources, prompts, completion, logging

  async readResource(uri: string, options: RequestOptions = {}): Promise<ReadResourceResult> {
    const result = await this.request("resources/read", { uri }, options);
    return {
      ...result,
      contents: this.#core.requireArray(result, "contents", "resources/read"),
    } as ReadResourceResult;
  }

  /**
   * Subscribes to a resource's updates (see `onResourceUpdated`). In 2026-07-28 the URI joins
   * the subscriptions/listen stream, which is re-opened with it; this resolves once the
   * server acknowledged it, and rejects with ERR_SUBSCRIPTION when the server left it out.
   */
  subscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    return this.#subscriptions.subscribe(uri, options);
  }

  unsubscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    return this.#subscriptions.unsubscribe(uri, options);
  }

  async getPrompt(
    name: string,
    args: Record<string, string> = {},
    options: RequestOptions = {},
  ): Promise<GetPromptResult> {
    const result = await this.request("prompts/get", { name, arguments: args }, options);
    return {
      ...result,
      messages: this.#core.requireArray(result, "messages", "prompts/get"),
    } as GetPromptResult;
  }

  /** Asks for completions of a prompt argument or a resource template variable. */
  async complete(
    ref: CompletionReference,
    argument: { name: string; value: string },
    options: RequestOptions & { context?: Record<string, string> } = {},
  ): Promise<CompleteResult> {
    const params: JsonObject = { ref, argument };
    if (options.context) params.context = { arguments: options.context };
    const result = await this.request("completion/complete", params, options);
    const completion = isObject(result.completion) ? result.completion : undefined;
    if (!completion || !Array.isArray(completion.values)) {
      this.#core.breach('The completion/complete result has no "completion.values" list');
      return { ...result, completion: { values: [] } };
    }
    return result as unknown as CompleteResult;
  }

  /**
   * Sets the level of log messages the server sends (see `onLog`). In 2026-07-28 there is no
   * such request: the level is kept here and sent in the `_meta` of every later request, and
   * without it the server sends no log messages at all.
   */
  async setLoggingLevel(level: LoggingLevel, options: RequestOptions = {}): Promise<void> {
    const core = this.#core;
    if (core.modern) {
      core.live();
      core.checkCapability("logging/setLevel");
      if (!LOGGING_LEVELS.includes(level)) {
        throw new McpError(ErrorCode.InvalidParams, `Unknown logging level: ${String(level)}`);
      }
      core.logLevel = level;
      return;
    }
    await this.request("logging/setLevel", { level }, options);
    core.logLevel = level;
  }

  /**
   * Checks the server answers. 2026-07-28 has no ping: there it sends server/discover, the
   * one request every such server must answer, which does nothing else.
   */
  async ping(options: RequestOptions = {}): Promise<void> {
    await this.request(this.#core.modern ? "server/discover" : "ping", {}, options);
  }

  /**
   * Tells the server the roots changed (notifications/roots/list_changed). 2026-07-28 removed
   * the notification (servers ask for roots with each request that needs them): a no-op there.
   */
  async rootsChanged(): Promise<void> {
    this.#core.live();
    if (this.#core.modern) return;
    await this.notify("notifications/roots/list_changed");
  }
}
