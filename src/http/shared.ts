import type {
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcResponse,
  RequestId,
} from "../mcp/jsonrpc.ts";
import type { ServerEvent } from "../mcp/server.ts";
import type { Bus } from "../storage/bus.ts";
import { type Store, StoreUnavailableError } from "../storage/store.ts";
import { randomId } from "../util/crypto.ts";
import type { EventStore } from "./event-store.ts";
import { type Session, type SessionRecord, type SessionTable, SharedSession } from "./sessions.ts";
import { applyRecord, changed, endedKey, merge, recordKey, recordOf } from "./shared-record.ts";
import { BROADCAST, type Broadcast, type Direct, direct, INSTANCE, parse } from "./shared-wire.ts";
import { StreamRelays } from "./stream-relays.ts";

/** What the shared layer needs from the transport it serves. */
export interface SharedHost {
  /** Passes a client's notification (a cancellation) to this instance's copy of a session. */
  receive(notification: JsonRpcNotification, session: Session): void;
  /** Settles a server-to-client request that waits on this instance. */
  settle(response: JsonRpcResponse, sessionId: string): void;
  /** Delivers a server event raised on another instance to this instance's listeners. */
  deliver(event: ServerEvent): void;
}

export interface SharedSessionsOptions {
  store: Store;
  bus: Bus;
  table: SessionTable;
  host: SharedHost;
  eventStore: EventStore | undefined;
  cacheMs: number;
  keepAliveMs: number;
}

/** How long an ended session id answers "ended" rather than "not found". */
const TOMBSTONE_MS = 24 * 60 * 60_000;
/** Compare-and-set rounds before a contended record change gives up. */
const MAX_ROUNDS = 8;

/**
 * 2025 sessions shared by several instances: records and tombstones in a Store, and a Bus
 * between the instances. Each instance keeps copies of the sessions it serves (revalidated
 * after `cacheMs`, refreshed at once when another instance changes one) and its own open
 * streams; everything else crosses the Bus.
 */
export class SharedSessions {
  /** This instance's name on the Bus; it also starts the ids of its server-to-client requests. */
  readonly instance = randomId().slice(0, 16);
  readonly #store: Store;
  readonly #bus: Bus;
  readonly #table: SessionTable;
  readonly #host: SharedHost;
  readonly #cacheMs: number;
  readonly #idleMs: number;
  readonly #touchMs: number;
  readonly #relays: StreamRelays;
  readonly #unsubscribe: Array<() => void>;
  readonly #keepAlive: ReturnType<typeof setInterval>;

  constructor(options: SharedSessionsOptions) {
    this.#store = options.store;
    this.#bus = options.bus;
    this.#table = options.table;
    this.#host = options.host;
    this.#cacheMs = options.cacheMs;
    this.#idleMs = options.table.idleTimeoutMs;
    // Pushing the expiry forward costs a write: do it a few times per idle period at most.
    this.#touchMs = Math.min(this.#idleMs / 4, 60_000);
    this.#relays = new StreamRelays({
      instance: this.instance,
      table: this.#table,
      eventStore: options.eventStore,
      keepAliveMs: options.keepAliveMs,
      send: (instance, message) => this.#send(instance, message),
    });
    this.#unsubscribe = [
      this.#bus.subscribe(BROADCAST, (raw) => this.#onBroadcast(raw)),
      this.#bus.subscribe(direct(this.instance), (raw) => this.#onDirect(raw)),
    ];
    // A client with an open GET stream is using its session even when it sends nothing: keep
    // the record from expiring, as a single instance keeps such a session.
    this.#keepAlive = setInterval(() => this.#keepListenersAlive(), this.#touchMs);
    (this.#keepAlive as { unref?: () => void }).unref?.();
  }

  /** Resolves once this instance receives what other instances send it. */
  ready(): Promise<void> {
    return this.#bus.ready?.() ?? Promise.resolve();
  }

  close(): void {
    clearInterval(this.#keepAlive);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#relays.close();
  }

  // Records

  /** Stores a new session's record; until then no other instance can serve it. */
  async create(session: SharedSession): Promise<void> {
    const record = recordOf(session, 1);
    await this.#store.set(recordKey(session.sessionId!), record, { ttlMs: this.#idleMs });
    applyRecord(session, record);
    session.checkedAt = session.touchedAt = this.#table.clock();
  }

  /**
   * The session an id names, for this caller: this instance's copy while fresh, else the
   * Store's record. "ended" for an id that was ended; undefined when unknown, expired, or
   * opened by another caller (`principalOf`: another issuer, subject or client).
   */
  async find(id: string, principal: string): Promise<SharedSession | "ended" | undefined> {
    const now = this.#table.clock();
    const cached = this.#table.peek(id) as SharedSession | undefined;
    // Another caller's session is not even marked used: it idles out as if never asked for.
    if (cached && now - cached.checkedAt < this.#cacheMs && cached.principal !== principal) {
      return undefined;
    }
    const local = this.#table.get(id) as SharedSession | undefined;
    if (local && now - local.checkedAt < this.#cacheMs) return local;
    const record = await this.#store.get<SessionRecord>(recordKey(id));
    if (!record) {
      // Ended elsewhere (its message lost) or expired: this copy goes too.
      if (local) this.#table.end(id);
      return (await this.#store.get(endedKey(id))) === undefined ? undefined : "ended";
    }
    const session = local ?? this.#table.adopt(record.v, id);
    if (record.rev >= session.revision) applyRecord(session, record);
    session.checkedAt = now;
    if ((record.own ?? "") !== principal) return undefined;
    if (now - session.touchedAt >= this.#touchMs) this.#touch(session, record);
    return session;
  }

  /** Pushes a record's expiry forward, in the background. */
  #touch(session: SharedSession, record: SessionRecord): void {
    session.touchedAt = this.#table.clock();
    // Same value, new expiry; if the record changed meanwhile, that write renewed it.
    void this.#store
      .compareAndSet(recordKey(session.sessionId!), record, record, { ttlMs: this.#idleMs })
      .catch(() => {});
  }

  #keepListenersAlive(): void {
    const due = this.#table.clock() - this.#touchMs;
    for (const session of this.#table.values()) {
      if (!(session instanceof SharedSession) || !session.standalone?.connected) continue;
      if (session.touchedAt > due) continue;
      session.touchedAt = this.#table.clock();
      void this.#store
        .get<SessionRecord>(recordKey(session.sessionId!))
        .then((record) => record && this.#touch(session, record))
        .catch(() => {});
    }
  }

  /** Whether a request changed this copy of a session (then `persist` has work to do). */
  dirty(session: SharedSession): boolean {
    return session.applied !== undefined && changed(session, session.applied);
  }

  /**
   * Saves what a request changed in a session (log level, subscriptions, ...) and tells the
   * other instances. Does nothing when it changed nothing.
   */
  async persist(session: SharedSession): Promise<void> {
    // Between requests a copy equals the record last applied to it (every change is saved,
    // then applied): what differs now is this request's change. The built-in methods that
    // change a session do so synchronously, so no record arrives between their change and
    // this comparison.
    const was = session.applied;
    if (!was || !changed(session, was)) return;
    const now = recordOf(session, was.rev);
    const key = recordKey(session.sessionId!);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const current = await this.#store.get<SessionRecord>(key);
      // Ended meanwhile: nothing to keep; the next request learns it.
      if (!current) return;
      const next = merge(current, was, now);
      if (await this.#store.compareAndSet(key, current, next, { ttlMs: this.#idleMs })) {
        applyRecord(session, next);
        session.checkedAt = session.touchedAt = this.#table.clock();
        await this.#broadcast({ i: this.instance, t: "changed", s: session.sessionId!, r: next });
        return;
      }
    }
    throw new StoreUnavailableError("The session record changed too often to save; try again");
  }

  /** Ends a session everywhere: its id answers "ended" from now on. */
  async end(session: Session): Promise<void> {
    const id = session.sessionId!;
    await this.#store.set(endedKey(id), true, { ttlMs: TOMBSTONE_MS });
    await this.#store.delete(recordKey(id));
    this.#table.end(id);
    await this.#broadcast({ i: this.instance, t: "end", s: id });
  }

  // Messages

  /**
   * Routes a client's answer to the instance whose server-to-client request it answers; the
   * request id names that instance. Answers to unknown or malformed ids are dropped, as on a
   * single instance.
   */
  async routeResponse(response: JsonRpcResponse, sessionId: string): Promise<void> {
    const owner = typeof response.id === "string" ? response.id.split(".", 1)[0] : undefined;
    if (!owner || owner === this.instance || !INSTANCE.test(owner)) return;
    await this.#send(owner, { t: "response", s: sessionId, r: response });
  }

  /** Passes a cancellation on to every instance, unless the request runs here. */
  async cancel(session: Session, notification: JsonRpcNotification): Promise<void> {
    const id = notification.params?.requestId;
    if (typeof id !== "string" && typeof id !== "number") return;
    if (session.inflight?.has(id as RequestId)) return;
    await this.#broadcast({
      i: this.instance,
      t: "cancel",
      s: session.sessionId!,
      n: notification,
    });
  }

  /** Sends a message to the session's GET stream, wherever it is open. */
  push(sessionId: string, message: JsonRpcMessage): Promise<void> {
    return this.#broadcast({ i: this.instance, t: "push", s: sessionId, m: message });
  }

  /** Tells the other instances that the session's GET stream is now here: theirs close. */
  claimStandalone(sessionId: string): void {
    void this.#broadcast({ i: this.instance, t: "get", s: sessionId }).catch(() => {});
  }

  /** Passes a server event on to the listeners connected to other instances. */
  publishEvent(event: ServerEvent): void {
    void this.#broadcast({ i: this.instance, t: "event", e: event }).catch(() => {});
  }

  // Streams

  /** A new reply stream's id; it names this instance, so a resume elsewhere can find it. */
  streamId(sessionId: string): string {
    return `${sessionId}_${this.instance}_${crypto.randomUUID()}`;
  }

  /** The instance that runs a stream, from its id; undefined for a GET stream or a bad id. */
  ownerOf(streamId: string): string | undefined {
    const parts = streamId.split("_");
    // The id comes back from the client: it names a channel only if it is an instance name.
    return parts.length === 3 && INSTANCE.test(parts[1]!) ? parts[1] : undefined;
  }

  /**
   * Resumes, on this instance, a stream that another instance runs (see StreamRelays).
   * Undefined for a stream nobody knows.
   */
  resumeElsewhere(
    session: Session,
    streamId: string,
    owner: string,
    after: number,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    return this.#relays.resumeElsewhere(session, streamId, owner, after);
  }

  #onBroadcast(raw: string): void {
    const message = parse<Broadcast>(raw);
    if (!message || message.i === this.instance) return;
    switch (message.t) {
      case "event":
        this.#host.deliver(message.e);
        return;
      case "end":
        this.#table.end(message.s);
        return;
      case "changed": {
        const local = this.#table.peek(message.s) as SharedSession | undefined;
        if (local && message.r.rev > local.revision) {
          applyRecord(local, message.r);
          local.checkedAt = this.#table.clock();
        }
        return;
      }
      case "cancel": {
        const local = this.#table.peek(message.s);
        if (local) this.#host.receive(message.n, local);
        return;
      }
      case "push": {
        const standalone = this.#table.peek(message.s)?.standalone;
        if (standalone && !standalone.closed) void standalone.send(message.m);
        return;
      }
      case "get": {
        const local = this.#table.peek(message.s);
        if (local?.standalone) {
          local.standalone.close();
          local.standalone = undefined;
        }
        return;
      }
    }
  }

  #onDirect(raw: string): void {
    const message = parse<Direct>(raw);
    if (!message) return;
    switch (message.t) {
      case "response":
        this.#host.settle(message.r, message.s);
        return;
      default:
        this.#relays.receive(message);
    }
  }

  async #broadcast(message: Broadcast): Promise<void> {
    await this.#bus.publish(BROADCAST, JSON.stringify(message));
  }

  async #send(instance: string, message: Direct): Promise<void> {
    await this.#bus.publish(direct(instance), JSON.stringify(message));
  }
}
