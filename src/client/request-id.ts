import type { RequestId } from "../mcp/jsonrpc.ts";

/** Whether `tagged` names request `id`; a server that turned our number into text is forgiven. */
export function sameRequestId(tagged: unknown, id: RequestId | undefined): boolean {
  return (
    id !== undefined && (tagged === id || (typeof tagged === "string" && tagged === String(id)))
  );
}
