import type { JsonRpcMessage, JsonRpcNotification, JsonRpcResponse } from "../mcp/jsonrpc.ts";
import type { ServerEvent } from "../mcp/server.ts";
import type { SessionRecord } from "./sessions.ts";

// What instances sharing 2025 sessions say to each other over the Bus.

/** Messages every instance receives. `i` names the sender, which ignores its own. */
export type Broadcast = { i: string } & (
  | { t: "event"; e: ServerEvent }
  | { t: "end"; s: string }
  | { t: "changed"; s: string; r: SessionRecord }
  | { t: "cancel"; s: string; n: JsonRpcNotification }
  | { t: "push"; s: string; m: JsonRpcMessage }
  | { t: "get"; s: string }
);

/** Messages to one instance. `n` ties the messages of one relayed stream together. */
export type Direct =
  | { t: "response"; s: string; r: JsonRpcResponse }
  | { t: "resume"; s: string; stream: string; from: string; n: string }
  | { t: "detach"; n: string }
  | { t: "check"; n: string; from: string }
  | RelayMessage;

/** What the instance that runs a relayed stream sends the instance its client is connected to. */
export type RelayMessage =
  | { t: "live"; n: string; p: number }
  | { t: "gone"; n: string }
  | { t: "event"; n: string; p: number; d: string }
  | { t: "end"; n: string }
  | { t: "alive"; n: string };

/** Instance names: 16 hex digits. */
export const INSTANCE = /^[0-9a-f]{16}$/;
export const BROADCAST = "mcp:all";
export const direct = (instance: string) => `mcp:to:${instance}`;

export function parse<T>(raw: string): T | undefined {
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}
