import { PortcullisError } from "../util/errors.ts";

/** A JSON-RPC id: the spec forbids null for requests. */
export type RequestId = string | number;

export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: RequestId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcSuccess {
  jsonrpc: "2.0";
  id: RequestId;
  result: Record<string, unknown>;
}

export interface JsonRpcFailure {
  jsonrpc: "2.0";
  id: RequestId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** JSON-RPC 2.0 and MCP error codes. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP 2025-x: resource not found. */
  ResourceNotFound: -32002,
  /** MCP: the client must complete a URL-mode elicitation first. */
  UrlElicitationRequired: -32042,
  /** Transport-level errors (session missing, bad headers) use the implementation range. */
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  /** 2026-07-28: HTTP headers disagree with the body, or a required one is missing. */
  HeaderMismatch: -32020,
  /** 2026-07-28: the request needs a client capability the client did not declare. */
  MissingRequiredClientCapability: -32021,
  /** 2026-07-28: the server does not speak the requested protocol version. */
  UnsupportedProtocolVersion: -32022,
  /** Portcullis: a rate limit refused the request; `data.retryAfterSeconds` says when to retry. */
  RateLimited: -32029,
  /**
   * Portcullis: the caller must authorize again (its upstream grant ended). Over HTTP the
   * reply is the resource server's 401 challenge whenever the reply has not started yet.
   */
  AuthorizationRequired: -32030,
} as const;

/**
 * An error that becomes a JSON-RPC error response. Thrown by handlers or by the framework;
 * anything else thrown is reported as an internal error without its details.
 */
export class McpError extends PortcullisError {
  /** The JSON-RPC error code (ErrorCode). */
  declare readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(code, message);
    this.name = "McpError";
    this.data = data;
  }

  toJSON(): JsonRpcErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export function isRequest(message: JsonRpcMessage): message is JsonRpcRequest {
  return "method" in message && "id" in message;
}

export function isNotification(message: JsonRpcMessage): message is JsonRpcNotification {
  return "method" in message && !("id" in message);
}

export function isResponse(message: JsonRpcMessage): message is JsonRpcResponse {
  return !("method" in message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

/**
 * Checks the shape of one parsed JSON value as a JSON-RPC 2.0 message.
 * Returns the message, or an error object describing why it is not one.
 */
export function parseMessage(value: unknown): JsonRpcMessage | McpError {
  if (!isObject(value) || value.jsonrpc !== "2.0") {
    return new McpError(ErrorCode.InvalidRequest, "Invalid Request: not a JSON-RPC 2.0 message");
  }
  if (typeof value.method === "string") {
    if (value.params !== undefined && !isObject(value.params)) {
      return new McpError(ErrorCode.InvalidRequest, "Invalid Request: params must be an object");
    }
    if ("id" in value && !isId(value.id)) {
      return new McpError(
        ErrorCode.InvalidRequest,
        "Invalid Request: id must be a string or number",
      );
    }
    return value as unknown as JsonRpcMessage;
  }
  if ("method" in value) {
    return new McpError(ErrorCode.InvalidRequest, "Invalid Request: method must be a string");
  }
  const hasResult = "result" in value;
  const hasError = "error" in value;
  if (hasResult === hasError || !isId(value.id)) {
    return new McpError(ErrorCode.InvalidRequest, "Invalid Request: malformed response");
  }
  if (hasResult && !isObject(value.result)) {
    return new McpError(ErrorCode.InvalidRequest, "Invalid Request: result must be an object");
  }
  if (hasError) {
    const error = value.error;
    if (!isObject(error) || typeof error.code !== "number" || typeof error.message !== "string") {
      return new McpError(ErrorCode.InvalidRequest, "Invalid Request: malformed error object");
    }
  }
  return value as unknown as JsonRpcMessage;
}

export function success(id: RequestId, result: Record<string, unknown>): JsonRpcSuccess {
  return { jsonrpc: "2.0", id, result };
}

export function failure(id: RequestId | null, error: McpError): JsonRpcFailure {
  return { jsonrpc: "2.0", id, error: error.toJSON() };
}

/** The id of a message if it has a usable one, for error replies. */
export function idOf(value: unknown): RequestId | null {
  return isObject(value) && isId(value.id) ? value.id : null;
}

/** Maps anything thrown to a JSON-RPC error, keeping internals out of the reply. */
export function asMcpError(error: unknown): McpError {
  if (error instanceof McpError) return error;
  return new McpError(ErrorCode.InternalError, "Internal error");
}
