import { ErrorCode } from "../mcp/jsonrpc.ts";
import { UnavailableError } from "../util/errors.ts";
import { httpError } from "./errors.ts";

/** Whether an error says shared state (Store or Bus) cannot be reached right now. */
export function isUnavailable(error: unknown): boolean {
  return error instanceof UnavailableError;
}

/** The reply while shared state cannot be reached: nothing was done, try again shortly. */
export function unavailableResponse(): Response {
  return httpError(
    503,
    ErrorCode.ConnectionClosed,
    "Service Unavailable: session storage cannot be reached; try again shortly",
    { "Retry-After": "2" },
  );
}
