import {
  isRequest,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcResponse,
  type RequestId,
} from "../mcp/jsonrpc.ts";
import type { ServerEvent } from "../mcp/server.ts";
import type { Bus } from "../storage/bus.ts";
import { type Store, StoreUnavailableError } from "../storage/store.ts";
import { randomId } from "../util/crypto.ts";
import type { EventStore } from "./event-store.ts";
import type { Found, SessionHost, SessionKeeper } from "./session-keeper.ts";
import {
  type Session,
  type SessionOptions,
  type SessionRecord,
  SessionTable,
  SharedSession,
} from "./sessions.ts";
import { applyRecord, changed, endedKey, merge, recordKey, recordOf } from "./shared-record.ts";
import { BROADCAST, type Broadcast, type Direct, direct, INSTANCE, parse } from "./shared-wire.ts";
import { StreamRelays } from "./stream-relays.ts";

export interface SharedSessionsOptions {
  store: Store;
  bus: Bus;
  /** The table's options (bounds, idleness, clock). */
  sessions: SessionOptions;
  host: SessionHost;
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
export class SharedSessions implements SessionKeeper {
  /** This instance's name on the Bus; it also starts the ids of its server-to-client requests. */
  readonly instance = randomId().slice(0, 16);
  readonly requestPrefix = `${this.instance}.`;
  readonly table: SessionTable<SharedSession>;
  readonly #store: Store;
  readonly #bus: Bus;
  readonly #table: SessionTable<SharedSession>;
  readonly #host: SessionHost;
  readonly #cacheMs: number;
  readonly #idleMs: number;
  readonly #touchMs: number;
  readonly #relays: StreamRelays;
  readonly #unsubscribe: Array<() => void>;
  readonly #keepAlive: ReturnType<typeof setInterval>;

  constructor(options: SharedSessionsOptions) {
    this.#store = options.store;
    this.#bus = options.bus;
    const host = options.host;
    this.table = this.#table = new SessionTable(
      options.sessions,
      (session) => host.released(session),
      (version, id) => new SharedSession(version, id),
      true,
    );
    this.#host = host;
    this.#cacheMs = options.cacheMs;
    this.#idleMs = this.#table.idleTimeoutMs;
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

  /** Stops hearing the others and lets go of this instance's copies; the sessions live on. */
  close(): void {
    clearInterval(this.#keepAlive);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#relays.close();
    for (const session of [...this.#table.values()]) this.#table.forget(session.sessionId!);
  }

  create(protocolVersion: string, principal: string): Session {
    const session = this.#table.create(protocolVersion);
    session.principal = principal;
    return session;
  }

  /** Stores a new session's record; until then no other instance can serve it. */
  async opened(session: Session): Promise<void> {
    const copy = this.#copy(session);
    try {
      const record = recordOf(copy, 1);
      await this.#store.set(recordKey(copy.sessionId!), record, { ttlMs: this.#idleMs });
      applyRecord(copy, record);
      copy.checkedAt = copy.touchedAt = this.#table.clock();
    } catch (error) {
      this.#table.forget(copy.sessionId!);
      throw error;
    }
  }

  discard(session: Session): void {
    this.#table.end(session.sessionId!);
  }

  /** This instance's copy of a session it was given: every session here is one. */
  #copy(session: Session): SharedSession {
    const copy = this.#table.peek(session.sessionId!);
    if (copy !== session) throw new Error("not a session of this instance");
    return copy;
  }

  // Records

  /**
   * The session an id names, for this caller: this instance's copy while fresh, else the
   * Store's record. "ended" for an id that was ended; undefined when unknown, expired, or
   * opened by another caller (`principalOf`: another issuer, subject or client).
   */
  async find(id: string, principal: string): Promise<Found> {
    const found = await this.#find(id, principal);
    return found === undefined && this.#table.wasEnded(id) ? "ended" : found;
  }

  async #find(id: string, principal: string): Promise<Found> {
    const now = this.#table.clock();
    const cached = this.#table.peek(id);
    // Another caller's session is not even marked used: it idles out as if never asked for.
    if (cached && now - cached.checkedAt < this.#cacheMs && cached.principal !== principal) {
      return undefined;
    }
    const local = this.#table.get(id);
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
      if (!session.standalone?.connected) continue;
      if (session.touchedAt > due) continue;
      session.touchedAt = this.#table.clock();
      void this.#store
        .get<SessionRecord>(recordKey(session.sessionId!))
        .then((record) => record && this.#touch(session, record))
        .catch(() => {});
    }
  }

  /**
   * What a request changed in a session, saved; undefined when it changed nothing (most
   * requests: no Store round trip, no extra await). Failed, this copy is read again next time.
   */
  save(session: Session): Promise<void> | undefined {
    const copy = this.#copy(session);
    if (copy.applied === undefined || !changed(copy, copy.applied)) return undefined;
    return this.#persist(copy).catch((error: unknown) => {
      // This copy now differs from the Store: read it again on the next request.
      copy.checkedAt = 0;
      throw error;
    });
  }

  /**
   * Saves what a request changed in a session (log level, subscriptions, ...) and tells the
   * other instances. Does nothing when it changed nothing.
   */
  async #persist(session: SharedSession): Promise<void> {
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
   * The notifications and answers a client posted on a session: a cancellation or an answer
   * for a request that runs on another instance goes there; what they changed is saved.
   */
  async receive(session: Session, messages: readonly JsonRpcMessage[]): Promise<void> {
    for (const message of messages) {
      if (isRequest(message)) continue;
      if ("method" in message) {
        this.#host.receive(message, session);
        if (message.method === "notifications/cancelled") await this.#cancel(session, message);
      } else if (!this.#host.settle(message, session.sessionId!, session.principal)) {
        await this.#routeResponse(message, session.sessionId!);
      }
    }
    await this.save(session);
  }

  /**
   * Routes a client's answer to the instance whose server-to-client request it answers; the
   * request id names that instance. Answers to unknown or malformed ids are dropped, as on a
   * single instance.
   */
  async #routeResponse(response: JsonRpcResponse, sessionId: string): Promise<void> {
    const owner = typeof response.id === "string" ? response.id.split(".", 1)[0] : undefined;
    if (!owner || owner === this.instance || !INSTANCE.test(owner)) return;
    await this.#send(owner, { t: "response", s: sessionId, r: response });
  }

  /** Passes a cancellation on to every instance, unless the request runs here. */
  async #cancel(session: Session, notification: JsonRpcNotification): Promise<void> {
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

  /** Any instance may hold the session's GET stream: a push always has somewhere to go. */
  reaches(): boolean {
    return true;
  }

  /** Sends a message on the session's GET stream: here if open here, else wherever it is. */
  push(session: Session, message: JsonRpcMessage): void {
    if (session.standalone) {
      void session.standalone.send(message);
      return;
    }
    const push: Broadcast = { i: this.instance, t: "push", s: session.sessionId!, m: message };
    void this.#broadcast(push).catch(() => {});
  }

  /** Tells the other instances that the session's GET stream is now here: theirs close. */
  claimStandalone(session: Session): void {
    void this.#broadcast({ i: this.instance, t: "get", s: session.sessionId! }).catch(() => {});
  }

  /** Passes a server event on to the listeners connected to other instances. */
  publish(event: ServerEvent): void {
    void this.#broadcast({ i: this.instance, t: "event", e: event }).catch(() => {});
  }

  // Streams

  /** A new reply stream's id; it names this instance, so a resume elsewhere can find it. */
  streamId(session: Session): string {
    return `${session.sessionId}_${this.instance}_${crypto.randomUUID()}`;
  }

  /**
   * Resumes, on this instance, a stream that another instance runs (see StreamRelays):
   * undefined when its id names no other instance; resolves to undefined for a stream
   * nobody knows.
   */
  resumeElsewhere(
    session: Session,
    streamId: string,
    after: number,
  ): Promise<ReadableStream<Uint8Array> | undefined> | undefined {
    const parts = streamId.split("_");
    // The id comes back from the client: it names a channel only if it is an instance name.
    const owner = parts.length === 3 && INSTANCE.test(parts[1]!) ? parts[1] : undefined;
    if (owner === undefined || owner === this.instance) return undefined;
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
        const local = this.#table.peek(message.s);
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
