import { randomId } from "../util/crypto.ts";
import type { EventStore } from "./event-store.ts";
import { RemoteStream } from "./remote-stream.ts";
import type { Session, SessionTable } from "./sessions.ts";
import type { Direct, RelayMessage } from "./shared-wire.ts";
import { eventId, type SseStream, type StreamRelay, sseEvent } from "./sse.ts";

/** How long a resumed stream waits for the instance that runs it before replaying alone. */
const HANDOVER_TIMEOUT_MS = 1_500;
/**
 * How often a relayed stream asks whether the instance that runs it is still there; without
 * an answer by the next check, the stream ends and the client resumes from what was stored.
 */
const RELAY_CHECK_MS = 5_000;

export interface StreamRelaysOptions {
  /** This instance's name on the Bus. */
  instance: string;
  table: SessionTable;
  eventStore: EventStore | undefined;
  keepAliveMs: number;
  /** Sends a message to one other instance. */
  send(instance: string, message: Direct): Promise<void>;
}

/**
 * Reply streams resumed on another instance than the one that runs them: the owner relays
 * its events over the Bus to the instance the client reconnected to.
 */
export class StreamRelays {
  readonly #instance: string;
  readonly #table: SessionTable;
  readonly #events: EventStore | undefined;
  readonly #keepAliveMs: number;
  readonly #send: StreamRelaysOptions["send"];
  /** Streams of other instances whose client is connected here, by handover nonce. */
  readonly #remote = new Map<string, RemoteStream>();
  /** Streams of this instance whose client is connected elsewhere, by handover nonce. */
  readonly #handed = new Map<string, { stream: SseStream; relay: StreamRelay }>();

  constructor(options: StreamRelaysOptions) {
    this.#instance = options.instance;
    this.#table = options.table;
    this.#events = options.eventStore;
    this.#keepAliveMs = options.keepAliveMs;
    this.#send = options.send;
  }

  close(): void {
    for (const remote of this.#remote.values()) remote.finish();
    this.#remote.clear();
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
        from: this.#instance,
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
        void this.#send(owner, { t: "check", n: nonce, from: this.#instance }).catch(() => {});
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

  /** Takes a message another instance sent about a relayed stream. */
  receive(message: Exclude<Direct, { t: "response" }>): void {
    switch (message.t) {
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
}
