import type { Implementation, JsonObject } from "../mcp/types.ts";

/**
 * What a client keeps about one server between processes, so a restarted agent can take up
 * its session instead of starting over. Small, plain JSON.
 */
export interface ClientState {
  /**
   * The revision last agreed with the server. It also records the server's era: a 2025
   * revision lets the next connect go straight to initialize, without the 2026-07-28 probe.
   */
  protocolVersion: string;
  /** The origin of the server URL this record belongs to; a record for another is ignored. */
  origin?: string;
  /** The 2025 session id, when the server keeps sessions. */
  sessionId?: string;
  /** The last event id of the server-initiated stream, to replay what was missed. */
  lastEventId?: string;
  serverInfo?: Implementation;
  serverCapabilities?: JsonObject;
  instructions?: string;
}

/**
 * Where a client keeps its ClientState for one server: memory (the default), a file, a
 * database row. `set(undefined)` forgets it (the session ended).
 */
export interface ClientStateStore {
  get(): Promise<ClientState | undefined>;
  set(state: ClientState | undefined): Promise<void>;
}

/** A ClientStateStore in memory: it outlives a client object, not the process. */
export function memoryClientState(initial?: ClientState): ClientStateStore {
  // Kept as JSON text so callers never share (and mutate) the stored object.
  let saved = initial === undefined ? undefined : JSON.stringify(initial);
  return {
    async get() {
      return saved === undefined ? undefined : (JSON.parse(saved) as ClientState);
    },
    async set(state) {
      saved = state === undefined ? undefined : JSON.stringify(state);
    },
  };
}
