/**
 * What a server asks of the client (elicitation, sampling, roots), answered by the handlers the
 * same way in both eras: as 2025 server-to-client requests, and as the input requests of a
 * 2026-07-28 multi round-trip request (MRTR) or task.
 */
import { isObject } from "../mcp/content.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import type { CreateMessageParams, JsonObject } from "../mcp/types.ts";
import type { InboundRequest } from "./connection.ts";
import type { ClientCore } from "./core.ts";
import { ProtocolError } from "./errors.ts";
import type { HandlerExtra } from "./options.ts";
import { abortable } from "./signals.ts";
import type { ElicitationRequest } from "./types.ts";

export class InboundRequests {
  readonly #core: ClientCore;

  constructor(core: ClientCore) {
    this.#core = core;
  }

  /** Answers a 2025 server-to-client request; "method not found" when there is no handler. */
  async serve(request: InboundRequest): Promise<JsonObject> {
    const extra: HandlerExtra = { signal: request.signal, requestId: request.id };
    const answer = await this.#handle(request.method, request.params, extra);
    if (answer) return answer;
    throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
  }

  /**
   * Answers one InputRequiredResult of `method` (2026-07-28): all its input requests at once.
   * Resolves with the fields of the retry.
   */
  async inputRound(
    method: string,
    result: JsonObject,
    callSignal: AbortSignal | undefined,
  ): Promise<JsonObject> {
    const { inputRequests: requests, requestState: state } = result;
    const malformed = (what: string) =>
      new ProtocolError("ERR_CONTRACT", `The input_required result of ${method} ${what}`);
    if (requests !== undefined && !isObject(requests)) throw malformed("has no inputRequests map");
    if (state !== undefined && typeof state !== "string") throw malformed("has a bad requestState");
    if (requests === undefined && state === undefined) {
      throw malformed("has neither inputRequests nor requestState");
    }
    const life = this.#core.life.signal;
    const signal = callSignal ? AbortSignal.any([callSignal, life]) : life;
    const retry: JsonObject = {};
    if (requests) {
      const entries = Object.entries(requests);
      const answers = await abortable(
        Promise.all(entries.map(([key, request]) => this.answer(key, request, signal, callSignal))),
        signal,
      );
      retry.inputResponses = Object.fromEntries(entries.map(([key], i) => [key, answers[i]]));
    }
    // Echoed exactly, and only when the server sent one.
    if (state !== undefined) retry.requestState = state;
    return retry;
  }

  /** Answers one 2026-07-28 input request, of a call or of a task, with the handlers. */
  async answer(
    key: string,
    request: unknown,
    signal: AbortSignal,
    callSignal?: AbortSignal,
  ): Promise<JsonObject> {
    if (!isObject(request) || typeof request.method !== "string") {
      throw new ProtocolError("ERR_CONTRACT", `The input request "${key}" has no method`);
    }
    const method = request.method;
    const params = isObject(request.params) ? request.params : {};
    let answer: JsonObject | undefined;
    try {
      answer = await this.#handle(method, params, {
        signal,
        requestId: key,
        inputKey: key,
        ...(callSignal && { callSignal }),
      });
    } catch (error) {
      // A request this client cannot take (a mode it did not declare) is the server's fault;
      // whatever a handler throws is the caller's own and reaches the caller as it is.
      if (error instanceof McpError) throw new ProtocolError("ERR_INPUT_REQUEST", error.message);
      throw error;
    }
    if (answer === undefined) {
      throw new ProtocolError(
        "ERR_INPUT_REQUEST",
        `The server asked for ${method}, which this client did not declare`,
      );
    }
    return answer;
  }

  /**
   * Runs the handler for what the server asks, in either era; undefined when there is none.
   * Throws McpError for a request the client cannot take.
   */
  async #handle(
    method: string,
    params: JsonObject,
    extra: HandlerExtra,
  ): Promise<JsonObject | undefined> {
    const handlers = this.#core.options.handlers ?? {};
    switch (method) {
      case "elicitation/create":
        if (handlers.elicitation) {
          return { ...(await handlers.elicitation(this.#elicitation(params), extra)) };
        }
        break;
      case "sampling/createMessage":
        if (handlers.sampling) {
          return { ...(await handlers.sampling(params as unknown as CreateMessageParams, extra)) };
        }
        break;
      case "roots/list":
        if (handlers.roots) return { roots: await handlers.roots(extra) };
        break;
    }
    return undefined;
  }

  #elicitation(params: JsonObject): ElicitationRequest {
    const modes = this.#core.options.elicitationModes ?? ["form"];
    const message = typeof params.message === "string" ? params.message : "";
    const meta = isObject(params._meta) ? { _meta: params._meta } : {};
    if (params.mode === "url") {
      if (!modes.includes("url") || typeof params.url !== "string") {
        throw new McpError(ErrorCode.InvalidParams, "This client does not do URL-mode elicitation");
      }
      const elicitationId = typeof params.elicitationId === "string" ? params.elicitationId : "";
      return { mode: "url", message, url: params.url, elicitationId, ...meta };
    }
    if (!modes.includes("form")) {
      throw new McpError(ErrorCode.InvalidParams, "This client does not do form elicitation");
    }
    const requestedSchema = isObject(params.requestedSchema) ? params.requestedSchema : {};
    return { mode: "form", message, requestedSchema, ...meta };
  }
}
