/**
 * What the HTTP transport holds open in this process, for gauges (portcullis/otel): 2025
 * sessions in memory (a shared Store's sessions count where their copy is held) and SSE
 * connections (reply streams, GET streams, 2026-07-28 streams). Counted as they open and
 * close, so reading is free.
 */
const counts = { sessions: 0, sseConnections: 0 };

export interface TransportStats {
  readonly sessions: number;
  readonly sseConnections: number;
}

export function transportStats(): TransportStats {
  return { sessions: counts.sessions, sseConnections: counts.sseConnections };
}

export function countSessions(delta: 1 | -1): void {
  counts.sessions += delta;
}

export function countSseConnections(delta: 1 | -1): void {
  counts.sseConnections += delta;
}
