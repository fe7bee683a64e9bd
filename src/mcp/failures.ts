import { errorId, type Logger, logOnce } from "../util/log.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";

/**
 * A thrown value as a JSON-RPC error. An McpError was raised on purpose and goes as it is;
 * anything else is logged with a correlation id, which the reply carries in `error.data`.
 */
export function unexpectedFailure(logger: Logger, error: unknown, method: string): McpError {
  if (error instanceof McpError) return error;
  const id = errorId();
  logger.error("request failed", { rpc_method: method, error_id: id, error });
  return new McpError(ErrorCode.InternalError, "Internal error", { errorId: id });
}

/**
 * Warns once that instances sharing sessions or tasks through a Store each seal with their
 * own random secret, so 2026-07-28 multi round-trip requests fail when the load balancer
 * sends the answer to another instance.
 */
export function warnNoSecret(logger: Logger, what: "sessions" | "tasks"): void {
  logOnce(
    logger,
    "warn",
    "no-shared-secret",
    `${what} live in a shared Store but the McpServer has no secret: each instance seals requestState with its own random key, so elicitation across instances fails; pass the same secret (32+ characters) to every instance`,
  );
}
