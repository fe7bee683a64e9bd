import type { Context as HonoContext } from "hono";
import type { OutgoingRequests } from "../mcp/outgoing.ts";
import { principalOf } from "../mcp/peer.ts";
import type { McpServer } from "../mcp/server.ts";
import type { BatchLimits } from "./batch.ts";
import type { EventStore } from "./event-store.ts";
import type { SessionTable } from "./sessions.ts";
import type { SharedSessions } from "./shared.ts";
import type { StreamableHttpOptions } from "./transport-options.ts";

/** What the pieces of the 2025 transport share: built once by StreamableHttpTransport. */
export interface TransportParts {
  readonly server: McpServer;
  readonly options: StreamableHttpOptions;
  /** Present when 2025 sessions are kept. */
  readonly sessions: SessionTable | undefined;
  /** With sessions in a shared Store: what crosses between instances. */
  readonly shared: SharedSessions | undefined;
  readonly outgoing: OutgoingRequests;
  readonly eventStore: EventStore | undefined;
  readonly keepAliveMs: number;
  readonly batch: BatchLimits;
}

/** Who calls (`principalOf` the verified token); "" on an open endpoint. */
export function principal(parts: TransportParts, c: HonoContext): string {
  return principalOf(parts.options.guard?.authenticate(c));
}
