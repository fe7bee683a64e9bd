/**
 * One request to its end in either era. 2025: as it is, over the session. 2026-07-28: with the
 * per-request `_meta`, and through as many "input required" rounds as the server needs.
 */
import { isObject } from "../mcp/content.ts";
import { INPUT_CAPABLE, META } from "../mcp/modern.ts";
import type { ClientCapabilities, JsonObject } from "../mcp/types.ts";
import type { Connection, RequestOptions, SendControl } from "./connection.ts";
import type { ClientCore } from "./core.ts";
import { ProtocolError } from "./errors.ts";
import { modernMeta } from "./handshake.ts";
import { clientInfo, declaredCapabilities } from "./identity.ts";
import type { InboundRequests } from "./inbound.ts";
import { TASKS_EXTENSION } from "./task-info.ts";

export class Requests {
  readonly #core: ClientCore;
  readonly #inbound: InboundRequests;

  constructor(core: ClientCore, inbound: InboundRequests) {
    this.#core = core;
    this.#inbound = inbound;
  }

  /** One request in either era; `tasks` declares the tasks extension in a 2026-07-28 one. */
  async call(
    method: string,
    params: JsonObject,
    options: RequestOptions,
    control: SendControl = {},
    tasks = false,
  ): Promise<JsonObject> {
    const core = this.#core;
    const connection = core.live();
    core.checkCapability(method);
    if (!core.modern) return connection.request(method, params, options, control);
    return this.#modernCall(connection, method, params, options, control, tasks);
  }

  /**
   * One 2026-07-28 request to its end: each "input required" result is answered by the
   * handlers (all of a round's requests at once) and the request sent again, with a new id,
   * the answers and the server's exact requestState, a bounded number of times. A task
   * handle (tools/call only) comes back as it is, `resultType` and all, for the caller to wait on.
   */
  async #modernCall(
    connection: Connection,
    method: string,
    params: JsonObject,
    options: RequestOptions,
    control: SendControl,
    tasks: boolean,
  ): Promise<JsonObject> {
    const meta = {
      ...(isObject(params._meta) ? params._meta : {}),
      ...this.#meta(tasks, options.capabilities),
    };
    const maxRounds = this.#core.options.maxInputRounds ?? 8;
    let retry: JsonObject = {};
    for (let round = 0; ; round++) {
      const result = await connection.request(
        method,
        { ...params, ...retry, _meta: meta },
        options,
        control,
      );
      const type = result.resultType;
      if (type === undefined && this.#core.strict.contract) {
        throw new ProtocolError("ERR_CONTRACT", `The ${method} result has no "resultType"`);
      }
      if (type === undefined || type === "complete") {
        // Always "complete" by the time callers see it: the rounds are this class's business.
        const { resultType: _type, ...complete } = result;
        return complete;
      }
      if (type === "task" && method === "tools/call") return result;
      if (type !== "input_required") {
        throw new ProtocolError(
          "ERR_RESULT_TYPE",
          `The ${method} result has resultType ${JSON.stringify(type)}, which this client does not know`,
        );
      }
      if (!INPUT_CAPABLE.has(method)) {
        throw new ProtocolError(
          "ERR_CONTRACT",
          `The server asked for input in reply to ${method}, which cannot take any`,
        );
      }
      if (round >= maxRounds) {
        throw new ProtocolError(
          "ERR_INPUT_ROUNDS",
          `The server still asked for input after ${maxRounds} rounds of ${method}`,
        );
      }
      retry = await this.#inbound.inputRound(method, result, options.signal);
    }
  }

  /** The `_meta` of a 2026-07-28 request: version, identity, capabilities, log level. */
  #meta(tasks: boolean, capabilities: ClientCapabilities | undefined): JsonObject {
    const { options, negotiated, logLevel } = this.#core;
    let declared: JsonObject = declaredCapabilities(options, true, tasks);
    if (capabilities) {
      declared = { ...capabilities };
      if (tasks) {
        const extensions = isObject(declared.extensions) ? declared.extensions : {};
        declared.extensions = { ...extensions, [TASKS_EXTENSION]: {} };
      }
    }
    const meta = modernMeta(negotiated!.protocolVersion, clientInfo(options), declared);
    if (logLevel !== undefined) meta[META.logLevel] = logLevel;
    return meta;
  }
}
