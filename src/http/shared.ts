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
import { eventId, type SseStream, type StreamRelay, sseEvent } from "./sse.ts";

/** Messages every instance receives. `i` names the sender, which ignores its own. */
type Broadcast = { i: string } & (
  | { t: "event"; e: ServerEvent }
  | { t: "end"; s: string }
  | { t: "changed"; s: string; r: SessionRecord }
  | { t: "cancel"; s: string; n: JsonRpcNotification }
  | { t: "push"; s: string; m: JsonRpcMessage }
  | { t: "get"; s: string }
);

/** Messages to one instance. `n` ties the messages of one relayed stream together. */
type Direct =
  | { t: "response"; s: string; r: JsonRpcResponse }
  | { t: "resume"; s: string; stream: string; from: string; n: string }
  | { t: "detach"; n: string }
  | { t: "check"; n: string; from: string }
  | RelayMessage;

type RelayMessage =
  | { t: "live"; n: string; p: number }
  | { t: "gone"; n: string }
  | { t: "event"; n: string; p: number; d: string }
  | { t: "end"; n: string }
  | { t: "alive"; n: string };

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

/** Instance names: 16 hex digits. */
const INSTANCE = /^[0-9a-f]{16}$/;
const BROADCAST = "mcp:all";
const direct = (instance: string) => `mcp:to:${instance}`;
const recordKey = (id: string) => `mcp:session:${id}`;
const endedKey = (id: string) => `mcp:ended:${id}`;
/** How long an ended session id answers "ended" rather than "not found". */
const TOMBSTONE_MS = 24 * 60 * 60_000;
/** How long a resumed stream waits for the instance that runs it before replaying alone. */
const HANDOVER_TIMEOUT_MS = 1_500;
/**
 * How often a relayed stream asks whether the instance that runs it is still there; without
 * an answer by the next check, the stream ends and the client resumes from what was stored.
 */
const RELAY_CHECK_MS = 5_000;
/** Compare-and-set rounds before a contended record change gives up. */
const MAX_ROUNDS = 8;

function recordOf(session: Session, revision: number): SessionRecord {
  const record: SessionRecord = { rev: revision, v: session.protocolVersion };
  if (session.principal !== "") record.own = session.principal;
  if (session.clientInfo) record.ci = session.clientInfo;
  if (session.clientCapabilities) record.cc = session.clientCapabilities;
  if (session.logLevel) record.ll = session.logLevel;
  if (session.subscriptions?.size) record.s = [...session.subscriptions].sort();
  if (session.initialized) record.init = true;
  return record;
}

function applyRecord(session: SharedSession, record: SessionRecord): void {
  session.applied = record;
  session.revision = record.rev;
  session.protocolVersion = record.v;
  session.principal = record.own ?? "";
  session.clientInfo = record.ci;
  session.clientCapabilities = record.cc;
  session.logLevel = record.ll;
  session.subscriptions = record.s ? new Set(record.s) : undefined;
  session.initialized = record.init === true;
}

/**
 * Whether a session copy differs from the record last applied to it: what a request changed.
 * Cheap on purpose, since it runs after every request: values and object identities
 * (applyRecord hands the record's own objects to the session), then subscriptions.
 */
function changed(session: SharedSession, record: SessionRecord): boolean {
  if (
    session.protocolVersion !== record.v ||
    session.logLevel !== record.ll ||
    session.principal !== (record.own ?? "") ||
    session.initialized !== (record.init === true) ||
    session.clientInfo !== record.ci ||
    session.clientCapabilities !== record.cc
  ) {
    return true;
  }
  const subscriptions = session.subscriptions;
  const stored = record.s;
  if ((subscriptions?.size ?? 0) !== (stored?.length ?? 0)) return true;
  for (const uri of stored ?? []) if (!subscriptions!.has(uri)) return true;
  return false;
}

const SCALAR_FIELDS = ["v", "own", "ci", "cc", "ll", "init"] as const;

/**
 * Applies what one request changed (`was` to `now`) onto the freshest record, so changes
 * made at the same time on other instances survive: fields by value, subscriptions by the
 * URIs added and removed.
 */
function merge(current: SessionRecord, was: SessionRecord, now: SessionRecord): SessionRecord {
  const next: Record<string, unknown> = { ...current };
  for (const field of SCALAR_FIELDS) {
    if (JSON.stringify(was[field]) === JSON.stringify(now[field])) continue;
    if (now[field] === undefined) delete next[field];
    else next[field] = now[field];
  }
  const before = new Set(was.s);
  const after = new Set(now.s);
  const subscriptions = new Set(current.s);
  for (const uri of after) if (!before.has(uri)) subscriptions.add(uri);
  for (const uri of before) if (!after.has(uri)) subscriptions.delete(uri);
  if (subscriptions.size) next.s = [...subscriptions].sort();
  else delete next.s;
  next.rev = current.rev + 1;
  return next as unknown as SessionRecord;
}

function parse<T>(raw: string): T | undefined {
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

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
  readonly #events: EventStore | undefined;
  readonly #cacheMs: number;
  readonly #keepAliveMs: number;
  readonly #idleMs: number;
  readonly #touchMs: number;
  /** Streams of other instances whose client is connected here, by handover nonce. */
  readonly #remote = new Map<string, RemoteStream>();
  /** Streams of this instance whose client is connected elsewhere, by handover nonce. */
  readonly #handed = new Map<string, { stream: SseStream; relay: StreamRelay }>();
  readonly #unsubscribe: Array<() => void>;
  readonly #keepAlive: ReturnType<typeof setInterval>;

  constructor(options: SharedSessionsOptions) {
    this.#store = options.store;
    this.#bus = options.bus;
    this.#table = options.table;
    this.#host = options.host;
    this.#events = options.eventStore;
    this.#cacheMs = options.cacheMs;
    this.#keepAliveMs = options.keepAliveMs;
    this.#idleMs = options.table.idleTimeoutMs;
    // Pushing the expiry forward costs a write: do it a few times per idle period at most.
    this.#touchMs = Math.min(this.#idleMs / 4, 60_000);
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
    for (const remote of this.#remote.values()) remote.finish();
    this.#remote.clear();
  }

  // Records

  /** Stores a new session's record; until then no other instance can serve it. */
  async create(session: SharedSession): Promise<void> {
    const record = recordOf(session, 1);
    await this.#store.set(recordKey(session.sessionId!), record, { ttlMs: this.#idleMs });
    applyRecord(session, record);
    session.checkedAt = session.touchedAt = Date.now();
  }

  /**
   * The session an id names, for this caller: this instance's copy while fresh, else the
   * Store's record. "ended" for an id that was ended; undefined when unknown, expired, or
   * opened by another caller (`principalOf`: another issuer, subject or client).
   */
  async find(id: string, principal: string): Promise<SharedSession | "ended" | undefined> {
    const now = Date.now();
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
    session.touchedAt = Date.now();
    // Same value, new expiry; if the record changed meanwhile, that write renewed it.
    void this.#store
      .compareAndSet(recordKey(session.sessionId!), record, record, { ttlMs: this.#idleMs })
      .catch(() => {});
  }

  #keepListenersAlive(): void {
    const due = Date.now() - this.#touchMs;
    for (const session of this.#table.values()) {
      if (!(session instanceof SharedSession) || !session.standalone?.connected) continue;
      if (session.touchedAt > due) continue;
      session.touchedAt = Date.now();
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
        session.checkedAt = session.touchedAt = Date.now();
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
   * Resumes, on this instance, a stream that another instance runs: the stored events after
   * `after`, then, while the request still runs there, its later events as they come. When
   * the owner does not answer (it stopped), the stored events alone. Undefined for a stream
   * nobody knows.
   */
  async resumeElsewhere(
    session: Session,
    streamId: string,
    owner: string,
    after: number,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    const nonce = randomId();
    const remote = new RemoteStream(this.#keepAliveMs, () => {
      this.#remote.delete(nonce);
      void this.#send(owner, { t: "detach", n: nonce }).catch(() => {});
    });
    this.#remote.set(nonce, remote);
    try {
      await this.#send(owner, {
        t: "resume",
        s: session.sessionId!,
        stream: streamId,
        from: this.instance,
        n: nonce,
      });
      const live = await remote.answer(HANDOVER_TIMEOUT_MS);
      const events = await this.#events?.replay(streamId, after);
      if (!events && !live) {
        this.#remote.delete(nonce);
        return undefined;
      }
      const replay = (events ?? [])
        .map((event) => sseEvent(JSON.stringify(event.message), eventId(streamId, event.position)))
        .join("");
      remote.start(replay, events?.at(-1)?.position ?? after);
      if (!live) remote.finish();
      if (remote.finished) this.#remote.delete(nonce);
      else this.#watch(remote, nonce, owner);
      return remote.body;
    } catch (error) {
      this.#remote.delete(nonce);
      remote.finish();
      throw error;
    }
  }

  /** Ends a relayed stream whose owner stopped answering (it died): nothing would come. */
  #watch(remote: RemoteStream, nonce: string, owner: string): void {
    const timer = setInterval(() => {
      if (remote.finished) {
        clearInterval(timer);
      } else if (remote.unanswered) {
        clearInterval(timer);
        this.#remote.delete(nonce);
        remote.finish();
      } else {
        remote.unanswered = true;
        void this.#send(owner, { t: "check", n: nonce, from: this.instance }).catch(() => {});
      }
    }, RELAY_CHECK_MS);
    (timer as { unref?: () => void }).unref?.();
  }

  /** Another instance's client resumes one of this instance's streams: relay it there. */
  #handOver(message: { s: string; stream: string; from: string; n: string }): void {
    const reply = (relayed: RelayMessage) => void this.#send(message.from, relayed).catch(() => {});
    const stream = this.#table.peek(message.s)?.streams?.get(message.stream);
    if (!stream) {
      reply({ t: "gone", n: message.n });
      return;
    }
    const nonce = message.n;
    const relay: StreamRelay = {
      start: (position) => reply({ t: "live", n: nonce, p: position }),
      event: (chunk, position) => reply({ t: "event", n: nonce, p: position, d: chunk }),
      end: () => {
        this.#handed.delete(nonce);
        reply({ t: "end", n: nonce });
      },
    };
    this.#handed.set(nonce, { stream, relay });
    stream.relayTo(relay);
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
          local.checkedAt = Date.now();
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
      case "resume":
        this.#handOver(message);
        return;
      case "detach": {
        const handed = this.#handed.get(message.n);
        this.#handed.delete(message.n);
        handed?.stream.unrelay(handed.relay);
        return;
      }
      case "check": {
        const answer: RelayMessage = this.#handed.has(message.n)
          ? { t: "alive", n: message.n }
          : { t: "end", n: message.n };
        void this.#send(message.from, answer).catch(() => {});
        return;
      }
      default: {
        const remote = this.#remote.get(message.n);
        if (!remote) return;
        if (remote.receive(message)) this.#remote.delete(message.n);
      }
    }
  }

  async #broadcast(message: Broadcast): Promise<void> {
    await this.#bus.publish(BROADCAST, JSON.stringify(message));
  }

  async #send(instance: string, message: Direct): Promise<void> {
    await this.#bus.publish(direct(instance), JSON.stringify(message));
  }
}

const encoder = new TextEncoder();

/**
 * The connection of a client that resumed here a stream another instance runs: the replay,
 * then the events that instance relays, each once and in order.
 */
class RemoteStream {
  readonly body: ReadableStream<Uint8Array>;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Relayed events that came before the replay was written. */
  #early: Array<{ chunk: string; position: number }> = [];
  #started = false;
  #ended = false;
  #finished = false;
  #last = 0;
  #answer: ((live: boolean) => void) | undefined;
  readonly #answered: Promise<boolean>;
  /** A liveness check of the owner is waiting for its answer. */
  unanswered = false;

  constructor(keepAliveMs: number, onCancel: () => void) {
    this.#answered = new Promise((resolve) => {
      this.#answer = resolve;
    });
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        if (keepAliveMs > 0) {
          this.#keepAlive = setInterval(() => this.#write(": keep-alive\n\n"), keepAliveMs);
          (this.#keepAlive as { unref?: () => void }).unref?.();
        }
      },
      cancel: () => {
        this.#stop();
        onCancel();
      },
    });
  }

  /** Whether the owner runs the stream (true), or not or not in time (false). */
  answer(timeoutMs: number): Promise<boolean> {
    const timer = setTimeout(() => this.#answer?.(false), timeoutMs);
    return this.#answered.finally(() => clearTimeout(timer));
  }

  /** Takes a relayed message; true once the stream is over. */
  receive(message: RelayMessage): boolean {
    this.unanswered = false;
    switch (message.t) {
      case "alive":
        return false;
      case "live":
        this.#answer?.(true);
        return false;
      case "gone":
        this.#answer?.(false);
        return false;
      case "event":
        if (this.#started) this.#event(message.d, message.p);
        else this.#early.push({ chunk: message.d, position: message.p });
        return false;
      case "end":
        this.#ended = true;
        this.#answer?.(false);
        if (this.#started) this.finish();
        return this.#started;
    }
  }

  /** Writes the replay, then what was relayed meanwhile. */
  start(replay: string, lastPosition: number): void {
    if (replay) this.#write(replay);
    this.#last = lastPosition;
    this.#started = true;
    for (const { chunk, position } of this.#early) this.#event(chunk, position);
    this.#early = [];
    if (this.#ended) this.finish();
  }

  #event(chunk: string, position: number): void {
    // The replay may already hold it.
    if (position <= this.#last) return;
    this.#last = position;
    this.#write(chunk);
  }

  #write(chunk: string): void {
    try {
      this.#controller?.enqueue(encoder.encode(chunk));
    } catch {
      this.#stop();
    }
  }

  get finished(): boolean {
    return this.#finished;
  }

  finish(): void {
    if (this.#finished) return;
    this.#answer?.(false);
    const controller = this.#controller;
    this.#stop();
    try {
      controller?.close();
    } catch {
      // The client went first.
    }
  }

  #stop(): void {
    this.#finished = true;
    clearInterval(this.#keepAlive);
    this.#controller = undefined;
  }
}
