import { ErrorCode } from "../mcp/jsonrpc.ts";

/** A transport-level error reply: an HTTP status with a JSON-RPC error body and no id. */
export function httpError(
  status: number,
  code: number,
  message: string,
  headers?: Record<string, string>,
): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export const badRequest = (message: string) =>
  httpError(400, ErrorCode.ConnectionClosed, `Bad Request: ${message}`);
