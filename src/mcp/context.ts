import type { Context as HonoContext } from "hono";
import type * as z from "zod/v4/core";
import { ErrorCode, McpError, type RequestId } from "./jsonrpc.ts";
import type { AuthInfo, Exchange, UpstreamAccess } from "./peer.ts";
import { NO_UPSTREAM } from "./reauthorize.ts";
import { compileSchema, isZodSchema } from "./schema.ts";
import {
  type ClientCapabilities,
  type CreateMessageParams,
  type CreateMessageResult,
  type ElicitResult,
  type Implementation,
  type JsonObject,
  LOGGING_LEVELS,
  type LoggingLevel,
  type ReadResourceResult,
  type Root,
} from "./types.ts";
import { isModernVersion, namesElicitationMode } from "./versions.ts";

/** Shared application state handed to every handler as `ctx.app`. */
export type AppState = Map<string, unknown>;

/** The parts of the server a context reaches back into. */
export interface ContextHost {
  readonly state: AppState;
  readResource(uri: string, ctx: Context): Promise<ReadResourceResult>;
}

export type Logger = {
  [level in LoggingLevel]: (data: unknown, logger?: string) => void;
};

/** A form-mode elicitation; `schema` is a flat zod object or its JSON Schema. */
export interface FormElicitation<S extends z.$ZodObject = z.$ZodObject> {
  mode?: "form";
  message: string;
  schema: S | JsonObject;
}

/** A URL-mode elicitation: the user completes it out of band, in a browser. */
export interface UrlElicitation {
  mode: "url";
  message: string;
  url: string;
  elicitationId?: string;
}

/** How a request to the client is made. */
export interface InputOptions {
  /**
   * Names the request in a 2026-07-28 multi round-trip round: its key in `inputRequests`
   * (default: `input-<n>`, numbered in call order). A named request means the same thing in
   * every round, so a client that knows the name may answer it up front, in its first
   * request. Unique within one request. Inside a 2026-07-28 task it keys the task's
   * `inputRequests` too, unless a pending request of the task has it. Not used by the 2025
   * revisions.
   */
  key?: string;
}

export type FormElicitResult<S extends z.$ZodObject> =
  | { action: "accept"; content: z.output<S> }
  | { action: "decline" | "cancel"; content?: undefined };

/** A 2026-07-28 multi round-trip round, as far as a handler's carried state goes. */
export interface CarryingRound {
  readonly carried: unknown;
  carry(value: unknown): void;
}

/** What a tool call that may run as a task offers its handler. */
export interface TaskControl {
  /** The task's id, once the call runs as a task. */
  readonly taskId: string | undefined;
  /** Makes the rest of the call a task now; false when it can no longer become one. */
  start(): Promise<boolean>;
}

function levelRank(level: LoggingLevel): number {
  return LOGGING_LEVELS.indexOf(level);
}

/**
 * What every tool, resource and prompt handler receives: the request's identity, the caller,
 * and the ways back to the client. Created once per request; cheap until a feature is used.
 */
export class Context {
  readonly requestId: RequestId;
  readonly method: string;
  /** The request's `_meta`: progress token, 2026-07-28 envelope, the client's own keys. */
  readonly meta: JsonObject | undefined;
  readonly #host: ContextHost;
  readonly #exchange: Exchange;
  readonly #progressToken: string | number | undefined;
  readonly #task: TaskControl | undefined;
  readonly #round: CarryingRound | undefined;
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #logger: Logger | undefined;
  #cancelled = false;

  constructor(
    host: ContextHost,
    exchange: Exchange,
    requestId: RequestId,
    method: string,
    meta: JsonObject | undefined,
    task?: TaskControl,
    round?: CarryingRound,
  ) {
    this.#host = host;
    this.#task = task;
    this.#round = round;
    this.#exchange = exchange;
    this.requestId = requestId;
    this.method = method;
    this.meta = meta;
    const token = meta?.progressToken;
    this.#progressToken =
      typeof token === "string" || typeof token === "number" ? token : undefined;
  }

  /** Aborts when the client cancels the request or goes away. */
  get signal(): AbortSignal {
    if (!this.#signal) {
      this.#controller ??= new AbortController();
      const transport = this.#exchange.signal;
      this.#signal = transport
        ? AbortSignal.any([this.#controller.signal, transport])
        : this.#controller.signal;
    }
    return this.#signal;
  }

  /** Whether the client cancelled the request (its response is then not sent). */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Called by the server on notifications/cancelled. */
  abort(reason: string): void {
    this.#cancelled = true;
    this.#controller ??= new AbortController();
    this.#controller.abort(new McpError(ErrorCode.RequestTimeout, `Request cancelled: ${reason}`));
  }

  /**
   * Called by the server when the request was answered while the handler still runs (a
   * multi round-trip round closed): the signal aborts with `reason`, the request is not
   * marked cancelled.
   */
  release(reason: unknown): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }

  /**
   * What an earlier run of this request passed to `carry()`: under 2026-07-28, a retry that
   * answers an input round runs the handler again, and this is how it finds what the run
   * before it kept (say, the id of work it started). Undefined on a first request, and in
   * the 2025 revisions, whose handlers run once.
   */
  get carried(): unknown {
    return this.#round?.carried;
  }

  /**
   * Keeps a small JSON value (at most 16 KiB) for the handler's next run, which reads it as
   * `carried`: it travels sealed in the round's `requestState`, bound to the method, the
   * arguments and the caller, so the client can neither read nor change it. It stays carried
   * through later rounds until replaced. Returns false where there is no next run to carry
   * to (the 2025 revisions, or a request that cannot ask for input); throws when the value
   * is not JSON or too large.
   */
  carry(value: unknown): boolean {
    if (!this.#round) return false;
    this.#round.carry(value);
    return true;
  }

  /** The id of the task this tool call runs as, if it runs as one. */
  get taskId(): string | undefined {
    return this.#task?.taskId;
  }

  /**
   * Turns the rest of this tool call into a task: the client gets the task handle now and
   * polls for the result. Resolves true once the task exists; false where the call cannot
   * become a task (the tool does not support tasks, or the client cannot take one). Under
   * 2026-07-28, input asked before this goes through multi round-trip requests, and after it
   * through the task; a 2025-11-25 call is already a task when the handler starts.
   */
  startTask(): Promise<boolean> {
    return this.#task ? this.#task.start() : Promise.resolve(false);
  }

  /** The Hono context of the HTTP request, when the request came over HTTP. */
  get c(): HonoContext | undefined {
    return this.#exchange.http;
  }

  get auth(): AuthInfo | undefined {
    return this.#exchange.auth;
  }

  /**
   * The caller's tokens at the identity provider they signed in with, when the built-in
   * authorization server keeps them (`upstreamOAuth({ keepTokens: true })`):
   * `await ctx.upstream.token()` is a valid upstream access token, refreshed when due.
   */
  get upstream(): UpstreamAccess {
    return this.#exchange.auth?.upstream ?? NO_UPSTREAM;
  }

  get app(): AppState {
    return this.#host.state;
  }

  get sessionId(): string | undefined {
    return this.#exchange.peer.sessionId;
  }

  get client(): {
    info: Implementation | undefined;
    capabilities: ClientCapabilities | undefined;
    protocolVersion: string;
  } {
    const peer = this.#exchange.peer;
    return {
      info: peer.clientInfo,
      capabilities: peer.clientCapabilities,
      protocolVersion: peer.protocolVersion,
    };
  }

  /** Log messages to the client as notifications/message, above the level it set. */
  get log(): Logger {
    if (!this.#logger) {
      const send = (level: LoggingLevel) => (data: unknown, logger?: string) => {
        const peer = this.#exchange.peer;
        const threshold = peer.logLevel;
        // 2026-07-28 clients opt in per request; 2025 clients get everything until setLevel.
        if (!threshold && isModernVersion(peer.protocolVersion)) return;
        if (threshold && levelRank(level) < levelRank(threshold)) return;
        this.notify("notifications/message", logger ? { level, logger, data } : { level, data });
      };
      this.#logger = Object.fromEntries(LOGGING_LEVELS.map((l) => [l, send(l)])) as Logger;
    }
    return this.#logger;
  }

  /** Reports progress; does nothing when the client did not ask for progress. */
  async progress(progress: number, total?: number, message?: string): Promise<void> {
    if (this.#progressToken === undefined) return;
    const params: JsonObject = { progressToken: this.#progressToken, progress };
    if (total !== undefined) params.total = total;
    if (message !== undefined) params.message = message;
    this.notify("notifications/progress", params);
  }

  /** Sends any notification tied to this request. */
  notify(method: string, params?: JsonObject): void {
    this.#exchange.notify(params ? { jsonrpc: "2.0", method, params } : { jsonrpc: "2.0", method });
  }

  /**
   * Lets go of the HTTP connection that carries this request's reply while the handler keeps
   * working; the client reconnects and receives the rest (2025-11-25 SSE polling). Returns
   * false where the reply cannot be resumed (no sessions or no event store).
   */
  closeConnection(): boolean {
    const close = this.#exchange.closeConnection;
    close?.();
    return close !== undefined;
  }

  readResource(uri: string): Promise<ReadResourceResult> {
    return this.#host.readResource(uri, this);
  }

  /** Asks the user for input through the client. */
  elicit<S extends z.$ZodObject>(
    request: FormElicitation<S>,
    options?: InputOptions,
  ): Promise<FormElicitResult<S>>;
  elicit(request: UrlElicitation, options?: InputOptions): Promise<ElicitResult>;
  async elicit(
    request: FormElicitation | UrlElicitation,
    options: InputOptions = {},
  ): Promise<ElicitResult | FormElicitResult<z.$ZodObject>> {
    const capability = this.#exchange.peer.clientCapabilities?.elicitation;
    if (request.mode === "url") {
      this.#require(capability?.url, "URL-mode elicitation", { elicitation: { url: {} } });
      const params: JsonObject = { mode: "url", message: request.message, url: request.url };
      // 2026-07-28 dropped the id: a retry of the original request carries the outcome.
      if (!isModernVersion(this.#exchange.peer.protocolVersion)) {
        params.elicitationId = request.elicitationId ?? crypto.randomUUID();
      }
      return (await this.#request(
        "elicitation/create",
        params,
        options,
      )) as unknown as ElicitResult;
    }
    // An empty `elicitation: {}` capability means form mode (2025-06-18 clients).
    const formSupported =
      capability !== undefined && (capability.form !== undefined || capability.url === undefined);
    this.#require(formSupported ? {} : undefined, "form elicitation", {
      elicitation: { form: {} },
    });
    const compiled = isZodSchema(request.schema)
      ? compileSchema(request.schema, "output")
      : undefined;
    const requestedSchema: JsonObject = {
      ...(compiled ? compiled.json : (request.schema as JsonObject)),
    };
    delete requestedSchema.$schema;
    const params: JsonObject = { message: request.message, requestedSchema };
    if (namesElicitationMode(this.#exchange.peer.protocolVersion)) params.mode = "form";
    const result = (await this.#request(
      "elicitation/create",
      params,
      options,
    )) as unknown as ElicitResult;
    if (result.action === "accept" && compiled) {
      const checked = compiled.validate(result.content ?? {});
      if (!checked.ok) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `Elicitation response does not match the requested schema: ${checked.message}`,
        );
      }
      return { action: "accept", content: checked.value as JsonObject };
    }
    return result;
  }

  /** Asks the client's model for a completion (sampling/createMessage). */
  async sample(
    params: CreateMessageParams,
    options: InputOptions = {},
  ): Promise<CreateMessageResult> {
    this.#require(this.#exchange.peer.clientCapabilities?.sampling, "sampling", { sampling: {} });
    return (await this.#request("sampling/createMessage", params, options)) as CreateMessageResult;
  }

  /** Asks the client for its filesystem roots. */
  async listRoots(options: InputOptions = {}): Promise<Root[]> {
    this.#require(this.#exchange.peer.clientCapabilities?.roots, "roots", { roots: {} });
    const result = await this.#request("roots/list", {}, options);
    return Array.isArray(result.roots) ? (result.roots as Root[]) : [];
  }

  /**
   * Refuses a feature the client did not declare. `required` is the capability that would
   * allow it: 2026-07-28 reports it in the error's `data.requiredCapabilities`.
   */
  #require(capability: unknown, feature: string, required: ClientCapabilities): void {
    // Stateless requests carry no capabilities: try, and let the client refuse.
    if (this.#exchange.peer.clientCapabilities === undefined) return;
    if (capability === undefined) {
      const message = `The client does not support ${feature} (it did not declare the capability)`;
      if (!isModernVersion(this.#exchange.peer.protocolVersion)) {
        throw new McpError(ErrorCode.InvalidRequest, message);
      }
      throw new McpError(ErrorCode.MissingRequiredClientCapability, message, {
        requiredCapabilities: required,
      });
    }
  }

  #request(method: string, params: JsonObject, options: InputOptions): Promise<JsonObject> {
    const how: Parameters<Exchange["request"]>[2] = {
      signal: this.signal,
      relatedRequestId: this.requestId,
    };
    if (options.key !== undefined) how.inputKey = options.key;
    return this.#exchange.request(method, params, how);
  }
}
