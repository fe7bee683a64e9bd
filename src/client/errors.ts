import type { JsonRpcErrorObject } from "../mcp/jsonrpc.ts";
import type { CallToolResult } from "../mcp/types.ts";
import { PortcullisError } from "../util/errors.ts";
import type { TaskStatus } from "./types.ts";

export { ErrorCode, McpError } from "../mcp/jsonrpc.ts";

/** Why a message could not travel between client and server. */
export type TransportErrorCode =
  /** The server answered with an HTTP status the transport cannot go on with. */
  | "ERR_HTTP_STATUS"
  /** 401 that the authorizer could not (or was not there to) resolve. */
  | "ERR_UNAUTHORIZED"
  /** 403 that the authorizer could not (or was not there to) resolve. */
  | "ERR_FORBIDDEN"
  /** The reply was neither JSON nor an event stream. */
  | "ERR_BAD_CONTENT_TYPE"
  /** The reply body was not JSON. */
  | "ERR_BAD_MESSAGE"
  /** A header broke the transport's rules (strict mode). */
  | "ERR_BAD_HEADER"
  /** One message was larger than `maxMessageBytes`. */
  | "ERR_MESSAGE_TOO_LARGE"
  /** The stream carrying a reply ended before the reply, and could not be resumed. */
  | "ERR_STREAM_ENDED"
  /** No reply within the request's time limit. */
  | "ERR_TIMEOUT"
  /** The server no longer knows the session (HTTP 404). */
  | "ERR_SESSION_EXPIRED"
  /** The connection is closed, or was never opened. */
  | "ERR_CONNECTION_CLOSED"
  /** The server could not be reached. */
  | "ERR_NETWORK"
  /** The server process could not be started. */
  | "ERR_SPAWN"
  /** The server process did not answer within its startup limit, and was killed. */
  | "ERR_STARTUP_TIMEOUT";

/** A failure below JSON-RPC: HTTP, streams, processes, time limits. */
export class TransportError extends PortcullisError {
  declare readonly code: TransportErrorCode;
  /** The HTTP status, when an HTTP reply caused the error. */
  readonly status: number | undefined;
  /** The JSON-RPC error the server put in an HTTP error body, if any. */
  readonly rpcError: JsonRpcErrorObject | undefined;
  /** The last lines a server process wrote to stderr, when they were captured. */
  readonly stderr: string | undefined;

  constructor(
    code: TransportErrorCode,
    message: string,
    options: {
      status?: number;
      rpcError?: JsonRpcErrorObject;
      stderr?: string;
      cause?: unknown;
    } = {},
  ) {
    super(code, message, options);
    this.name = "TransportError";
    this.status = options.status;
    this.rpcError = options.rpcError;
    this.stderr = options.stderr;
  }
}

/**
 * Client and server share no protocol revision: the server answered initialize with one this
 * client does not speak, or listed only such revisions, or does not speak the one the client
 * was told to use.
 */
export class ProtocolVersionError extends PortcullisError {
  declare readonly code: "ERR_PROTOCOL_VERSION";
  /** What the client would have accepted. */
  readonly supported: readonly string[];
  /** What the server answered: a version, the list it supports, or undefined when it named none. */
  readonly received: unknown;

  constructor(
    supported: readonly string[],
    received: unknown,
    options: { message?: string; cause?: unknown } = {},
  ) {
    super(
      "ERR_PROTOCOL_VERSION",
      options.message ??
        `The server answered with protocol version ${JSON.stringify(received)}; this client speaks ${supported.join(", ")}`,
      options,
    );
    this.name = "ProtocolVersionError";
    this.supported = supported;
    this.received = received;
  }
}

/** Ways a server's messages can break the protocol's contract. */
export type ProtocolErrorCode =
  /** A message lacks a field the spec requires, or is not JSON-RPC. */
  | "ERR_CONTRACT"
  /** The server did not declare the capability the call needs (strict mode). */
  | "ERR_CAPABILITY"
  /** A tool result without `content` (strict mode). */
  | "ERR_TOOL_RESULT_CONTENT"
  /** structuredContent does not match the tool's outputSchema (strict mode). */
  | "ERR_OUTPUT_SCHEMA"
  /** A paginated list handed back a cursor it had already given. */
  | "ERR_PAGINATION_LOOP"
  /** A 2026-07-28 result with a `resultType` the client does not know. */
  | "ERR_RESULT_TYPE"
  /** The server asked for input (elicitation, sampling, roots) the client did not declare. */
  | "ERR_INPUT_REQUEST"
  /** The server kept asking for input beyond `maxInputRounds`. */
  | "ERR_INPUT_ROUNDS"
  /** The server did not acknowledge a subscription the client asked for. */
  | "ERR_SUBSCRIPTION";

/** The server's messages arrived but break the protocol's rules. */
export class ProtocolError extends PortcullisError {
  declare readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(code, message);
    this.name = "ProtocolError";
  }
}

/** A tool's structuredContent does not match the outputSchema it was listed with. */
export class OutputSchemaError extends ProtocolError {
  readonly tool: string;
  /** The result as the server sent it, for logging or recovery. */
  readonly result: CallToolResult;

  constructor(tool: string, reason: string, result: CallToolResult) {
    super(
      "ERR_OUTPUT_SCHEMA",
      `Tool "${tool}" returned structuredContent that does not match its outputSchema: ${reason}`,
    );
    this.name = "OutputSchemaError";
    this.tool = tool;
    this.result = result;
  }
}

/** Why a task gave no result. */
export type TaskErrorCode =
  /** The task ended in `failed`: `rpcError` holds the error its call ended with, if any. */
  | "ERR_TASK_FAILED"
  /** The task was cancelled, by this client or another. */
  | "ERR_TASK_CANCELLED"
  /** The server's revision has no such task operation (tasks/list under 2026-07-28, say). */
  | "ERR_TASK_UNSUPPORTED"
  /** The server answered the call at once, without a task: nothing to poll, update or cancel. */
  | "ERR_NO_TASK";

/** A task the client started or waited for ended without a result, or cannot be asked that. */
export class TaskError extends PortcullisError {
  declare readonly code: TaskErrorCode;
  readonly taskId: string | undefined;
  /** The task's status when the client gave up on it. */
  readonly status: TaskStatus | undefined;
  /** The JSON-RPC error a failed task's call ended with. */
  readonly rpcError: JsonRpcErrorObject | undefined;

  constructor(
    code: TaskErrorCode,
    message: string,
    options: { taskId?: string; status?: TaskStatus; rpcError?: JsonRpcErrorObject } = {},
  ) {
    super(code, message);
    this.name = "TaskError";
    this.taskId = options.taskId;
    this.status = options.status;
    this.rpcError = options.rpcError;
  }
}

/** Something the client tolerated in lenient mode, reported through `onWarning`. */
export interface ClientWarning {
  /** A stable identifier, e.g. "output_schema" or "bad_message". */
  code: string;
  message: string;
  detail?: unknown;
}
