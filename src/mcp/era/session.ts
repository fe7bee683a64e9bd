import type { McpError } from "../jsonrpc.ts";
import { Peer } from "../peer.ts";
import type { JsonObject } from "../types.ts";
import { DEFAULT_HEADER_VERSION } from "../versions.ts";
import type { Era, PeerSource } from "./era.ts";

/** Methods only 2026-07-28 has. */
const STATELESS_ONLY: ReadonlySet<string> = new Set(["server/discover", "subscriptions/listen"]);

/**
 * The 2025 revisions (2025-03-26, 2025-06-18, 2025-11-25): initialize opens a session,
 * results and errors travel as handlers made them.
 */
export const sessionEra: Era = {
  name: "session",
  has: (method) => !STATELESS_ONLY.has(method),
  /** A request without a session speaks the header's revision, else the oldest one. */
  peer: (source: PeerSource) => new Peer(source.headerVersion ?? DEFAULT_HEADER_VERSION),
  multiRoundTrip: false,
  result: (_method: string, _params: JsonObject, result: JsonObject) => result,
  error: (error: McpError) => error,
};
