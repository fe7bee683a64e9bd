/** The options of one request, as callers and the client's parts give them. */
import type { RequestId } from "../mcp/jsonrpc.ts";
import type { ClientCapabilities, JsonObject } from "../mcp/types.ts";

/** One notifications/progress update. */
export interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

/** Per-request options every McpClient call takes. */
export interface RequestOptions {
  /** Aborting cancels the request: the server is told with notifications/cancelled. */
  signal?: AbortSignal;
  /**
   * Time to wait for the reply; default the client's `requestTimeoutMs`. Infinity waits forever.
   * Time spent authorizing (a person signing in) is left out: the limit starts over after it.
   */
  timeoutMs?: number;
  /** Asks the server for progress and receives it. */
  onProgress?: (progress: Progress) => void;
  /** Each progress update starts `timeoutMs` over, for long work that keeps reporting. */
  resetTimeoutOnProgress?: boolean;
  /** A hard limit on the whole request, progress or not. */
  maxTotalTimeoutMs?: number;
  /**
   * Send again after a network failure or a 5xx (see McpClientOptions.retry). Default: for
   * requests safe to repeat; a tools/call only when its tool was listed readOnly or idempotent.
   */
  retry?: boolean;
  /**
   * 2026-07-28: the client capabilities this request declares in its `_meta`, in place of the
   * ones the client's handlers imply; a gateway declares its caller's, so a server asks only
   * what the caller can answer. The 2025 revisions declare capabilities once, at initialize.
   */
  capabilities?: ClientCapabilities;
}

/** How the client sends one request, beyond what callers choose. */
export interface SendControl {
  /** Open a new session and send again when the old one expired. Default true. */
  recover?: boolean;
  /** Headers for this request alone (HTTP): the `Mcp-Param-*` mirrors of tool arguments. */
  headers?: Record<string, string>;
  /** Learns the request's JSON-RPC id before it is sent. */
  onId?: (id: RequestId) => void;
  /** Whether a failed send may be tried again; default by method (see retry.ts). */
  retry?: boolean;
}

/** A request the server sends to the client (elicitation, sampling, roots). */
export interface InboundRequest {
  id: RequestId;
  method: string;
  params: JsonObject;
  /** Aborts when the server cancels the request or the connection closes. */
  signal: AbortSignal;
}
