import type { Guard } from "../resource/guard.ts";
import type { EventStore } from "./event-store.ts";
import type { OriginOptions } from "./origin.ts";
import type { SessionOptions } from "./sessions.ts";

export interface StreamableHttpOptions extends OriginOptions {
  /** Reply to every request with one JSON body instead of an SSE stream. */
  jsonResponse?: boolean;
  /** Keep 2025 sessions (Mcp-Session-Id, GET stream, DELETE). Off by default: stateless. */
  sessions?: SessionOptions | boolean;
  /** Makes SSE streams resumable with Last-Event-ID (needs sessions). */
  eventStore?: EventStore;
  /** Largest request body accepted, in bytes. Default 4 MiB. */
  maxBodyBytes?: number;
  /**
   * Most messages in one JSON-RPC batch (2025-03-26); a longer batch is refused whole with
   * 400 and -32600, nothing in it acted on. Default 50.
   */
  maxBatchMessages?: number;
  /**
   * Reply bytes after which the requests of a batch not yet started are answered with -32600
   * instead of being run (the replies already built are sent). Default 4 MiB.
   */
  maxBatchReplyBytes?: number;
  /** Accept requests whose Accept header lacks one of the required media types. */
  lenientAccept?: boolean;
  /** Keep-alive comment interval on open streams. Default 15 s; 0 turns it off. */
  keepAliveMs?: number;
  /** The reconnection delay suggested with the priming event. Default 1 s. */
  retryMs?: number;
  /** How long a server-to-client request waits for the client. Default 10 minutes. */
  clientRequestTimeoutMs?: number;
  /** Set when the endpoint is protected (mcpApp's `auth`): who calls, and the step-up reply. */
  guard?: Guard;
}
