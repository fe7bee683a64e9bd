import { isObject } from "../mcp/content.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import { type JsonObject, LOGGING_LEVELS, type LoggingLevel } from "../mcp/types.ts";
import type { ClientCore } from "./core.ts";
import type { CompleteResult } from "./types.ts";

/**
 * Sets the level of log messages the server sends. In 2026-07-28 there is no such request: the
 * level is kept and sent in the `_meta` of every later request, and without it the server
 * sends no log messages at all.
 */
export async function setLoggingLevel(
  core: ClientCore,
  level: LoggingLevel,
  send: (params: JsonObject) => Promise<unknown>,
): Promise<void> {
  if (core.modern) {
    core.live();
    core.checkCapability("logging/setLevel");
    if (!LOGGING_LEVELS.includes(level)) {
      throw new McpError(ErrorCode.InvalidParams, `Unknown logging level: ${String(level)}`);
    }
    core.logLevel = level;
    return;
  }
  await send({ level });
  core.logLevel = level;
}

/** A completion/complete result, checked: a list of values, else (lenient) none. */
export function completionResult(core: ClientCore, result: JsonObject): CompleteResult {
  const completion = isObject(result.completion) ? result.completion : undefined;
  if (!completion || !Array.isArray(completion.values)) {
    core.breach('The completion/complete result has no "completion.values" list');
    return { ...result, completion: { values: [] } };
  }
  return result as unknown as CompleteResult;
}
