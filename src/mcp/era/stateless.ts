import { isObject } from "../content.ts";
import { ErrorCode, McpError } from "../jsonrpc.ts";
import { CACHEABLE, META, modernPeer } from "../modern.ts";
import type { JsonObject } from "../types.ts";
import type { Dressing, Era } from "./era.ts";

const SERVER_INFO = META.serverInfo;

/** Methods only the 2025 revisions have; a 2026-07-28 request for them is an unknown method. */
const SESSION_ONLY: ReadonlySet<string> = new Set([
  "initialize",
  "ping",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
]);

/**
 * 2026-07-28: no sessions; each request carries version, client identity and capabilities in
 * `_meta`; results name their `resultType` and the server, cacheable ones carry hints;
 * handlers that need input answer with an InputRequiredResult.
 */
export const statelessEra: Era = {
  name: "stateless",
  has: (method) => !SESSION_ONLY.has(method),
  peer: (source) => modernPeer(source.params, source.offered),
  multiRoundTrip: true,
  result(
    method: string,
    params: JsonObject,
    result: JsonObject,
    dressing: Dressing,
    authenticated: boolean,
  ): JsonObject {
    // One copy, keys in the order the handler gave them, then resultType and _meta if new.
    const dressed: JsonObject = {
      ...result,
      resultType: result.resultType ?? "complete",
      _meta: isObject(result._meta)
        ? { ...result._meta, [SERVER_INFO]: dressing.serverInfo }
        : { [SERVER_INFO]: dressing.serverInfo },
    };
    if (CACHEABLE.has(method) && dressed.resultType === "complete") {
      const hint = dressing.cacheHint(method, params);
      dressed.ttlMs ??= hint.ttlMs ?? 0;
      dressed.cacheScope ??= hint.scope ?? (authenticated ? "private" : "public");
    }
    return dressed;
  },
  /** Resource-not-found became invalid params in 2026-07-28. */
  error(error: McpError): McpError {
    if (error.code === ErrorCode.ResourceNotFound) {
      return new McpError(ErrorCode.InvalidParams, error.message, error.data);
    }
    return error;
  },
};
