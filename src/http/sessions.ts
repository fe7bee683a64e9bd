import { Peer } from "../mcp/peer.ts";
import type { SseStream } from "./sse.ts";

export interface SessionOptions {
  /** Live sessions kept; past this the least recently used is evicted. Default 10,000. */
  maxSessions?: number;
  /** A session unused this long is ended. Default 30 minutes. */
  idleTimeoutMs?: number;
  /** Ended session ids remembered, so they answer 404 instead of starting over. Default 10,000. */
  tombstones?: number;
}

/** A 2025-era session: the client's peer state plus its open streams. */
export class Session extends Peer {
  lastSeen = Date.now();
  /** The GET stream for server-initiated messages. */
  standalone: SseStream | undefined;
  /** Reply streams that can still be resumed, by stream id. */
  streams: Map<string, SseStream> | undefined;
  /** Who opened the session, when the endpoint is protected. */
  subject: string | undefined;
}

/** 128 random bits as hex: session and stream ids must not be guessable. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let id = "";
  for (const byte of bytes) id += byte.toString(16).padStart(2, "0");
  return id;
}

/**
 * Live sessions in least-recently-used order, with a bounded list of ended ids. A Map keeps
 * insertion order, so re-inserting on use makes its first key the least recently used.
 */
export class SessionTable {
  readonly #sessions = new Map<string, Session>();
  readonly #ended = new Set<string>();
  readonly #max: number;
  readonly #idleMs: number;
  readonly #maxTombstones: number;
  readonly #onEnd: (session: Session) => void;

  constructor(options: SessionOptions, onEnd: (session: Session) => void) {
    this.#max = options.maxSessions ?? 10_000;
    this.#idleMs = options.idleTimeoutMs ?? 30 * 60_000;
    this.#maxTombstones = options.tombstones ?? 10_000;
    this.#onEnd = onEnd;
  }

  get size(): number {
    return this.#sessions.size;
  }

  values(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  create(protocolVersion: string): Session {
    this.#sweep();
    while (this.#sessions.size >= this.#max) {
      this.end(this.#sessions.keys().next().value!);
    }
    const session = new Session(protocolVersion, randomId());
    this.#sessions.set(session.sessionId!, session);
    return session;
  }

  /** Whether an id belonged to a session that has ended. */
  wasEnded(id: string): boolean {
    return this.#ended.has(id);
  }

  /** Looks a session up and marks it used; an idle-expired one is ended on the spot. */
  get(id: string): Session | undefined {
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = Date.now();
    if (now - session.lastSeen > this.#idleMs && !session.standalone?.connected) {
      this.end(id);
      return undefined;
    }
    session.lastSeen = now;
    this.#sessions.delete(id);
    this.#sessions.set(id, session);
    return session;
  }

  end(id: string): boolean {
    const session = this.#sessions.get(id);
    if (!session) return false;
    this.#sessions.delete(id);
    this.#ended.add(id);
    if (this.#ended.size > this.#maxTombstones) {
      this.#ended.delete(this.#ended.values().next().value!);
    }
    this.#onEnd(session);
    return true;
  }

  /** Ends idle sessions from the least recently used end; stops at the first fresh one. */
  #sweep(): void {
    const cutoff = Date.now() - this.#idleMs;
    for (const [id, session] of this.#sessions) {
      if (session.lastSeen > cutoff) break;
      if (!session.standalone?.connected) this.end(id);
    }
  }
}
