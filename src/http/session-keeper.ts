import {
  isRequest,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcResponse,
} from "../mcp/jsonrpc.ts";
import type { ServerEvent } from "../mcp/server.ts";
import { Session, type SessionOptions, SessionTable } from "./sessions.ts";

/** What a session keeper needs from the session era's handler. */
export interface SessionHost {
  /** Passes a client's notification to a session (initialized, cancelled). */
  receive(notification: JsonRpcNotification, session: Session): void;
  /** Settles a server-to-client request waiting here; false when none waits for it. */
  settle(response: JsonRpcResponse, sessionId: string, principal?: string): boolean;
  /** A server event raised on another instance, for this instance's listeners. */
  deliver(event: ServerEvent): void;
  /** A session ended, or this instance let go of its copy: release what it held here. */
  released(session: Session): void;
}

/** A lookup's outcome: the session, "ended" for an id that was ended, else undefined. */
export type Found = Session | "ended" | undefined;

/**
 * Where the session era keeps its sessions: in this process (`LocalSessions`) or in a shared
 * Store with a Bus between instances (`SharedSessions`). The handler, the reply step and the
 * GET stream use sessions through this alone; what differs lives in the two implementations.
 */
export interface SessionKeeper {
  /** This instance's sessions (its copies, when they are shared). */
  readonly table: SessionTable;
  /** What starts the ids of this instance's server-to-client requests. */
  readonly requestPrefix: string;
  /** Resolves once this instance hears the others. */
  ready(): Promise<void>;
  /** Lets go of every session here (shared: they live on for the other instances). */
  close(): void;
  /** A new session for an initialize, owned by `principal`; `opened` once that succeeded. */
  create(protocolVersion: string, principal: string): Session;
  /** The initialize succeeded: the session can be found from now on, by every instance. */
  opened(session: Session): Promise<void>;
  /** The initialize failed: the session goes. */
  discard(session: Session): void;
  /** The session an id names, for this caller; another caller's answers as unknown. */
  find(id: string, principal: string): Found | Promise<Found>;
  /** Ends a session for good (DELETE). */
  end(session: Session): Promise<void> | void;
  /** The notifications and answers a client posted on a session. */
  receive(session: Session, messages: readonly JsonRpcMessage[]): Promise<void> | void;
  /**
   * Keeps what a request changed in a session, before its reply goes out (so the client's
   * next request sees it everywhere); undefined when there is nothing to keep.
   */
  save(session: Session): Promise<void> | undefined;
  /** A new reply stream's id. */
  streamId(session: Session): string;
  /** Whether a message can reach the session's GET stream (here, or where it is open). */
  reaches(session: Session): boolean;
  /** Sends a message on the session's GET stream, here or where it is open. */
  push(session: Session, message: JsonRpcMessage): void;
  /** Passes a server event raised here on to the other instances. */
  publish(event: ServerEvent): void;
  /** The session's GET stream is now open here. */
  claimStandalone(session: Session): void;
  /**
   * Resumes a reply stream that runs on another instance, after `position`; undefined when
   * no other instance runs it.
   */
  resumeElsewhere(
    session: Session,
    streamId: string,
    position: number,
  ): Promise<ReadableStream<Uint8Array> | undefined> | undefined;
}

/** Sessions of one process: nothing crosses to other instances. */
export class LocalSessions implements SessionKeeper {
  readonly table: SessionTable;
  readonly requestPrefix = "";
  readonly #host: SessionHost;

  constructor(options: SessionOptions, host: SessionHost) {
    this.#host = host;
    this.table = new SessionTable(
      options,
      (session) => host.released(session),
      (version, id) => new Session(version, id),
      false,
    );
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    for (const session of [...this.table.values()]) this.table.end(session.sessionId!);
  }

  create(protocolVersion: string, principal: string): Session {
    const session = this.table.create(protocolVersion);
    session.principal = principal;
    return session;
  }

  opened(): Promise<void> {
    return Promise.resolve();
  }

  discard(session: Session): void {
    this.table.end(session.sessionId!);
  }

  find(id: string, principal: string): Found {
    // Another caller's session answers exactly as an unknown one, and is not marked used.
    const owned = this.table.peek(id)?.principal === principal;
    const session = owned ? this.table.get(id) : undefined;
    if (session) return session;
    return !this.table.peek(id) && this.table.wasEnded(id) ? "ended" : undefined;
  }

  end(session: Session): void {
    this.table.end(session.sessionId!);
  }

  receive(session: Session, messages: readonly JsonRpcMessage[]): void {
    for (const message of messages) {
      if (isRequest(message)) continue;
      if ("method" in message) this.#host.receive(message, session);
      else this.#host.settle(message, session.sessionId!, session.principal);
    }
  }

  save(): undefined {
    return undefined;
  }

  streamId(session: Session): string {
    return `${session.sessionId}_${crypto.randomUUID()}`;
  }

  reaches(session: Session): boolean {
    return session.standalone !== undefined;
  }

  push(session: Session, message: JsonRpcMessage): void {
    void session.standalone?.send(message);
  }

  publish(): void {}

  claimStandalone(): void {}

  resumeElsewhere(): undefined {
    return undefined;
  }
}
