import type { JsonRpcNotification } from "../mcp/jsonrpc.ts";
import { Peer } from "../mcp/peer.ts";
import type { ClientCapabilities, Implementation, LoggingLevel } from "../mcp/types.ts";
import type { Bus } from "../storage/bus.ts";
import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { randomId } from "../util/crypto.ts";
import type { SseStream } from "./sse.ts";
import { countSessions } from "./stats.ts";

/**
 * A session as the shared Store keeps it. Short names: it is read on every cache miss and
 * written on every change.
 */
export interface SessionRecord {
  /** Revision: one more on every change, so a late copy never replaces a newer one. */
  rev: number;
  /** The negotiated protocol version. */
  v: string;
  /** Who opened the session (`principalOf` its token), on a protected endpoint. */
  own?: string;
  ci?: Implementation;
  cc?: ClientCapabilities;
  ll?: LoggingLevel;
  /** Resource subscriptions, sorted. */
  s?: string[];
  init?: true;
}

export interface SessionOptions {
  /** Live sessions kept; past this the least recently used is evicted. Default 10,000. */
  maxSessions?: number;
  /** A session unused this long is ended. Default 30 minutes. */
  idleTimeoutMs?: number;
  /** What idleness is measured by (epoch ms). Default Date.now. */
  clock?: Clock;
  /** Ended session ids remembered, so they answer 404 instead of starting over. Default 10,000. */
  tombstones?: number;
  /**
   * Share sessions between instances: each session's record (version, client, log level,
   * subscriptions, owner) and the ids of ended sessions live in this Store, so any instance
   * can serve any request of a session. Open streams stay with the instance that serves them.
   * `maxSessions` then bounds what each instance keeps in memory, and `tombstones` is unused:
   * ended ids are kept in the Store for a day.
   */
  store?: Store;
  /**
   * With `store`: how instances reach each other (answers to server-to-client requests,
   * cancellations, notifications, resumed streams). Default: `memoryBus()`, which reaches
   * only transports in this process; use `redisBus()` from portcullis/redis across processes.
   */
  bus?: Bus;
  /** With `store`: how long an instance trusts its copy of a session record. Default 1 s. */
  cacheMs?: number;
  /**
   * A session ended on this instance (closed by its client, idle, evicted, the transport
   * closed): let go of what it held. Not called when a shared session's copy is only forgotten.
   */
  onEnd?: (sessionId: string) => void;
}

/** A 2025-era session: the client's peer state plus its open streams. */
export class Session extends Peer {
  /** When the client last used it (epoch ms, by the table's clock). */
  lastSeen = 0;
  /** The GET stream for server-initiated messages. */
  standalone: SseStream | undefined;
  /** Reply streams that can still be resumed, by stream id. */
  streams: Map<string, SseStream> | undefined;
  /**
   * Who opened the session (`principalOf` its token: issuer, subject and client); "" when the
   * endpoint is open. Only that caller may use it.
   */
  principal = "";
  /** Messages about no request in particular (task status) go out on the GET stream. */
  override push = (message: JsonRpcNotification): void => {
    void this.standalone?.send(message);
  };
}

/** A session whose record lives in a shared Store; this object is one instance's copy. */
export class SharedSession extends Session {
  /** The record's revision this copy reflects. */
  revision = 0;
  /** When the record was last read from the Store (epoch ms). */
  checkedAt = 0;
  /** When the record's expiry was last pushed forward (epoch ms). */
  touchedAt = 0;
  /** The record last applied to this copy: what a request's changes are told apart from. */
  applied: SessionRecord | undefined;
}

/**
 * Live sessions in least-recently-used order, with a bounded list of ended ids. A Map keeps
 * insertion order, so re-inserting on use makes its first key the least recently used.
 *
 * With a shared Store (`shared`), the table is this instance's cache of sessions that live in
 * the Store: eviction and local idleness only release the local copy (`forget`), and only an
 * explicit `end` marks a session ended.
 */
export class SessionTable<S extends Session = Session> {
  readonly #sessions = new Map<string, S>();
  readonly #ended = new Set<string>();
  readonly #max: number;
  readonly #idleMs: number;
  readonly #maxTombstones: number;
  readonly #onEnd: (session: Session) => void;
  readonly #endHook: ((sessionId: string) => void) | undefined;
  readonly #make: (protocolVersion: string, id: string) => S;
  readonly #shared: boolean;
  readonly clock: Clock;

  /**
   * `make` builds a session object (local or shared); `shared`: the sessions live in a Store,
   * so eviction and idleness only forget this copy.
   */
  constructor(
    options: SessionOptions,
    onEnd: (session: Session) => void,
    make: (protocolVersion: string, id: string) => S,
    shared: boolean,
  ) {
    this.#max = options.maxSessions ?? 10_000;
    this.#idleMs = options.idleTimeoutMs ?? 30 * 60_000;
    this.#maxTombstones = options.tombstones ?? 10_000;
    this.#onEnd = onEnd;
    this.#endHook = options.onEnd;
    this.#make = make;
    this.#shared = shared;
    this.clock = options.clock ?? systemClock;
  }

  get idleTimeoutMs(): number {
    return this.#idleMs;
  }

  get size(): number {
    return this.#sessions.size;
  }

  values(): IterableIterator<S> {
    return this.#sessions.values();
  }

  /** A new session under a fresh id. */
  create(protocolVersion: string): S {
    return this.adopt(protocolVersion, randomId());
  }

  /** Takes in a session under a known id (this instance's copy of one in a shared Store). */
  adopt(protocolVersion: string, id: string): S {
    const session = this.#make(protocolVersion, id);
    this.#insert(session);
    return session;
  }

  #insert(session: S): void {
    session.lastSeen = this.clock();
    this.#sweep();
    while (this.#sessions.size >= this.#max) {
      this.#release(this.#sessions.keys().next().value!);
    }
    if (!this.#sessions.has(session.sessionId!)) countSessions(1);
    this.#sessions.set(session.sessionId!, session);
  }

  /** A session by id, without marking it used or expiring it. */
  peek(id: string): S | undefined {
    return this.#sessions.get(id);
  }

  /** Whether an id belonged to a session that has ended. */
  wasEnded(id: string): boolean {
    return this.#ended.has(id);
  }

  /** Looks a session up and marks it used; an idle-expired one is ended on the spot. */
  get(id: string): S | undefined {
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = this.clock();
    if (now - session.lastSeen > this.#idleMs && !session.standalone?.connected) {
      this.#release(id);
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
    countSessions(-1);
    this.#ended.add(id);
    if (this.#ended.size > this.#maxTombstones) {
      this.#ended.delete(this.#ended.values().next().value!);
    }
    this.#onEnd(session);
    this.#endHook?.(id);
    return true;
  }

  /**
   * Lets go of this instance's copy of a shared session (its local streams and requests end
   * with it); the session itself lives on in the Store. Nothing is marked ended.
   */
  forget(id: string): boolean {
    const session = this.#sessions.get(id);
    if (!session) return false;
    this.#sessions.delete(id);
    countSessions(-1);
    this.#onEnd(session);
    return true;
  }

  /** Evicted or idle: ended on a single instance, forgotten when the Store keeps sessions. */
  #release(id: string): void {
    if (this.#shared) this.forget(id);
    else this.end(id);
  }

  /** Ends idle sessions from the least recently used end; stops at the first fresh one. */
  #sweep(): void {
    const cutoff = this.clock() - this.#idleMs;
    for (const [id, session] of this.#sessions) {
      if (session.lastSeen > cutoff) break;
      if (!session.standalone?.connected) this.#release(id);
    }
  }
}
