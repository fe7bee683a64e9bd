import type { McpError } from "../jsonrpc.ts";
import type { EraName } from "../middleware.ts";
import type { Peer } from "../peer.ts";
import type { Implementation, JsonObject } from "../types.ts";

/** How long a result may be cached, and by whom (2026-07-28 cache hints). */
export interface CacheHint {
  ttlMs?: number | undefined;
  scope?: "public" | "private" | undefined;
}

/** What an era needs from the server to dress a result. */
export interface Dressing {
  readonly serverInfo: Implementation;
  /** The cache hint of a method's result (a resource's own, else the server's). */
  cacheHint(method: string, params: JsonObject): CacheHint;
}

/** Where a peer for one message comes from. */
export interface PeerSource {
  /** The request's params (`_meta` carries the 2026-07-28 envelope). */
  readonly params: JsonObject | undefined;
  /** Revisions the server offers. */
  readonly offered: readonly string[];
  /** The MCP-Protocol-Version header, on HTTP. */
  readonly headerVersion?: string | null | undefined;
}

/**
 * One protocol era: the 2025 revisions (sessions opened by initialize) or 2026-07-28
 * (stateless, everything in each request's `_meta`). Transports and the dispatcher ask it
 * instead of comparing versions.
 */
export interface Era {
  readonly name: EraName;
  /** Whether a method exists in this era. */
  has(method: string): boolean;
  /**
   * The peer of a message that arrives outside a session. Throws an `McpError` for an
   * envelope the era refuses (a 2026-07-28 request without its `_meta`).
   */
  peer(source: PeerSource): Peer;
  /** Whether handlers ask the client for input through multi round-trip requests. */
  readonly multiRoundTrip: boolean;
  /**
   * The result as the era sends it; `authenticated` callers' results are cached privately
   * unless the server says otherwise.
   */
  result(
    method: string,
    params: JsonObject,
    result: JsonObject,
    dressing: Dressing,
    authenticated: boolean,
  ): JsonObject;
  /** The error as the era sends it. */
  error(error: McpError): McpError;
}
