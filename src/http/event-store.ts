import type { JsonRpcMessage } from "../mcp/jsonrpc.ts";

/** One stored event of a stream: its position (1, 2, ...) and the message it carried. */
export interface StoredEvent {
  position: number;
  message: JsonRpcMessage;
}

/**
 * Keeps the messages sent on SSE streams so a client that lost its connection can resume
 * with `Last-Event-ID`. Positions are per stream and increase by one from 1; the transport
 * builds event ids from the stream id and the position.
 */
export interface EventStore {
  /** Stores a message sent on a stream and returns its position. */
  append(streamId: string, message: JsonRpcMessage): Promise<number>;
  /** The events of a stream after a position, oldest first; undefined for an unknown stream. */
  replay(streamId: string, after: number): Promise<StoredEvent[] | undefined>;
  /** Forgets a stream (its session ended). */
  drop(streamId: string): Promise<void>;
}

export interface MemoryEventStoreOptions {
  /** Streams kept; the least recently written is forgotten first. Default 1,000. */
  maxStreams?: number;
  /** Events kept per stream; older ones are forgotten first. Default 1,000. */
  maxEventsPerStream?: number;
}

interface StreamLog {
  next: number;
  events: StoredEvent[];
}

/** An in-process event store with bounded memory, for single-instance servers. */
export function memoryEventStore(options: MemoryEventStoreOptions = {}): EventStore {
  const maxStreams = options.maxStreams ?? 1_000;
  const maxEvents = options.maxEventsPerStream ?? 1_000;
  const streams = new Map<string, StreamLog>();
  return {
    async append(streamId, message) {
      let log = streams.get(streamId);
      if (log) {
        streams.delete(streamId);
      } else {
        log = { next: 1, events: [] };
        if (streams.size >= maxStreams) streams.delete(streams.keys().next().value!);
      }
      streams.set(streamId, log);
      const position = log.next++;
      log.events.push({ position, message });
      if (log.events.length > maxEvents) log.events.shift();
      return position;
    },
    async replay(streamId, after) {
      const log = streams.get(streamId);
      return log?.events.filter((event) => event.position > after);
    },
    async drop(streamId) {
      streams.delete(streamId);
    },
  };
}
