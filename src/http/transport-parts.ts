import type { Context as HonoContext } from "hono";
import type { OutgoingRequests } from "../mcp/outgoing.ts";
import { principalOf } from "../mcp/peer.ts";
import type { McpServer } from "../mcp/server.ts";
import type { BatchLimits } from "./batch.ts";
import type { EventStore } from "./event-store.ts";
import type { SessionKeeper } from "./session-keeper.ts";
import type { StreamableHttpOptions } from "./transport-options.ts";

/** What the pieces of the session era share: built once by SessionEraHandler. */
export interface TransportParts {
  readonly server: McpServer;
  readonly options: StreamableHttpOptions;
  /** Where sessions are kept (locally or in a shared Store); undefined without sessions. */
  readonly keeper: SessionKeeper | undefined;
  readonly outgoing: OutgoingRequests;
  readonly eventStore: EventStore | undefined;
  readonly keepAliveMs: number;
  readonly batch: BatchLimits;
}

/** Who calls (`principalOf` the verified token); "" on an open endpoint. */
export function principal(parts: TransportParts, c: HonoContext): string {
  return principalOf(parts.options.guard?.authenticate(c));
}
