import {
  ErrorCode,
  failure,
  idOf,
  type JsonRpcMessage,
  McpError,
  parseMessage,
} from "../mcp/jsonrpc.ts";
import { accepts, readBody } from "../util/body.ts";
import { type BatchLimits, batchTooLong } from "./batch.ts";
import { badRequest, httpError } from "./errors.ts";

export interface InboundLimits {
  maxBodyBytes: number;
  batch: BatchLimits;
  lenientAccept: boolean | undefined;
}

/** A POST that passed the inbound checks: its messages, and what the client accepts. */
export interface InboundPost {
  messages: JsonRpcMessage[];
  /** The body was a JSON array. */
  batch: boolean;
  wantsSse: boolean;
  /** The MCP-Protocol-Version header; null when absent. */
  version: string | null;
}

/**
 * The inbound step of a POST: Accept and Content-Type, the capped body, JSON, the batch
 * limit and each message's shape. The error reply when any check fails.
 */
export async function readPost(
  request: Request,
  limits: InboundLimits,
): Promise<InboundPost | Response> {
  const accept = request.headers.get("accept");
  const wantsJson = accepts(accept, "application/json");
  const wantsSse = accepts(accept, "text/event-stream");
  if (!(wantsJson && wantsSse) && !limits.lenientAccept) {
    return httpError(
      406,
      ErrorCode.ConnectionClosed,
      "Not Acceptable: the client must accept both application/json and text/event-stream",
    );
  }
  if (!request.headers.get("content-type")?.includes("application/json")) {
    return httpError(
      415,
      ErrorCode.ConnectionClosed,
      "Unsupported Media Type: send application/json",
    );
  }
  let text: string | undefined;
  try {
    text = await readBody(request, limits.maxBodyBytes);
  } catch {
    // The client hung up mid-body: routine, not a server error worth a stack trace.
    return badRequest("the request body could not be read");
  }
  if (text === undefined) {
    return httpError(
      413,
      ErrorCode.InvalidRequest,
      `Payload Too Large: the limit is ${limits.maxBodyBytes} bytes`,
      // The rest of the body was not read: the connection cannot carry another request.
      { Connection: "close" },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return httpError(400, ErrorCode.ParseError, "Parse error: the body is not valid JSON");
  }
  const batch = Array.isArray(body);
  const raw: unknown[] = Array.isArray(body) ? body : [body];
  if (raw.length === 0)
    return httpError(400, ErrorCode.InvalidRequest, "Invalid Request: empty batch");
  if (raw.length > limits.batch.maxMessages) {
    return Response.json(failure(null, batchTooLong(limits.batch)), { status: 400 });
  }
  const messages: JsonRpcMessage[] = [];
  for (const item of raw) {
    const parsed = parseMessage(item);
    if (parsed instanceof McpError) {
      return Response.json(failure(idOf(item), parsed), { status: 400 });
    }
    messages.push(parsed);
  }
  return { messages, batch, wantsSse, version: request.headers.get("mcp-protocol-version") };
}
