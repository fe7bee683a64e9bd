/**
 * A connection's life: opening it (a stored session taken up, or the era probe and handshake),
 * replacing a 2025 session the server forgot, keeping the client state, and closing.
 */
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts";
import type { Connection, RequestOptions } from "./connection.ts";
import type { ClientCore } from "./core.ts";
import { TransportError } from "./errors.ts";
import { type Era, handshake } from "./handshake.ts";
import { keepPinging } from "./health.ts";
import { StreamableHttpClientTransport } from "./http.ts";
import { clientInfo, declaredCapabilities } from "./identity.ts";
import type { InboundRequests } from "./inbound.ts";
import { MiddlewareConnection } from "./middleware.ts";
import type { ConnectOptions } from "./options.ts";
import { wantsPush } from "./push.ts";
import { safeMethod, timeLimit, withRetry } from "./retry.ts";
import { type ClientState, type ClientStateStore, memoryClientState } from "./state.ts";
import type { Subscriptions } from "./subscriptions.ts";
import type { ToolCatalog } from "./tool-catalog.ts";
import type { ClientTransport, SessionUpdate } from "./transport.ts";
import { isModern, LEGACY_VERSIONS } from "./versions.ts";

/** How long the server/discover probe waits by default: a silent server is a 2025 one. */
const PROBE_TIMEOUT_MS = 10_000;

/** The parts of the client a connection's life touches besides the core. */
export interface LifecycleParts {
  inbound: InboundRequests;
  subscriptions: Subscriptions;
  catalog: ToolCatalog;
  notified(notification: JsonRpcNotification): void;
  /** One ping in the connection's era, not retried: the periodic pings' probe. */
  ping(timeoutMs: number): Promise<void>;
}

function sessionLost(error: unknown): boolean {
  return (
    error instanceof TransportError &&
    (error.code === "ERR_SESSION_EXPIRED" ||
      (error.code === "ERR_HTTP_STATUS" && error.status === 400))
  );
}

/** The era a stored record shows the server spoke. */
function rememberedEra(saved: ClientState | undefined): Era | undefined {
  if (!saved) return undefined;
  if (isModern(saved.protocolVersion)) return "modern";
  return LEGACY_VERSIONS.includes(saved.protocolVersion) ? "legacy" : undefined;
}

export class Lifecycle {
  readonly #core: ClientCore;
  readonly #parts: LifecycleParts;
  #store: ClientStateStore = memoryClientState();
  #record: Partial<ClientState> = {};
  #saving: Promise<void> = Promise.resolve();
  #recovering: Promise<void> | undefined;
  /** A reopen failed half way: the transport holds no session or revision to send with. */
  #broken = false;
  /** The origin of the server URL, which the stored state must belong to. */
  #origin: string | undefined;
  /** ConnectOptions.listen: true always opens the GET stream, false never, else when needed. */
  #listen: boolean | undefined;

  constructor(core: ClientCore, parts: LifecycleParts) {
    this.#core = core;
    this.#parts = parts;
  }

  async connect(target: string | URL | ClientTransport, options: ConnectOptions): Promise<void> {
    const core = this.#core;
    if (core.connection && !core.connection.closed) {
      throw new Error("This client is already connected; close() it first");
    }
    const limitMs = options.connectTimeoutMs;
    if (limitMs !== undefined && (!Number.isFinite(limitMs) || limitMs <= 0)) {
      throw new TypeError("connectTimeoutMs must be a positive finite number");
    }
    const transport =
      typeof target === "string" || target instanceof URL
        ? this.#httpTransport(target, options)
        : target;
    const connection = new MiddlewareConnection(
      core.middleware,
      transport instanceof StreamableHttpClientTransport ? transport.url : undefined,
      () => core.negotiated?.protocolVersion,
      transport,
      {
        request: (request) => this.#parts.inbound.serve(request),
        notification: (notification) => this.#parts.notified(notification),
        warning: (warning) => core.warn(warning),
        recover: () => this.#recover(),
        sessionExpired: () => {
          if (!connection.closed)
            this.#recover().catch((error: unknown) => this.#recoveryFailed(error));
        },
        sessionChanged: (update) => this.#sessionChanged(update),
        send: (method, retry, send, signal) => this.#send(method, retry, send, signal),
      },
      core.requestTimeoutMs,
    );
    core.connection = connection;
    core.negotiated = undefined;
    core.logLevel = undefined;
    core.life = new AbortController();
    this.#record = {};
    this.#parts.catalog.clear();
    this.#parts.subscriptions.reset(
      options.reconnect,
      new TransportError("ERR_CONNECTION_CLOSED", "Not connected"),
    );
    this.#store = options.state ?? memoryClientState();
    this.#listen = options.listen;
    this.#broken = false;
    this.#origin =
      transport instanceof StreamableHttpClientTransport ? transport.url.origin : undefined;
    const opening: RequestOptions = {};
    const limit =
      limitMs === undefined
        ? undefined
        : timeLimit(
            core.timers,
            limitMs,
            `Could not connect within ${limitMs} ms (connectTimeoutMs)`,
          );
    const signals = [options.signal, limit?.signal].filter((signal) => signal !== undefined);
    if (signals.length) opening.signal = AbortSignal.any(signals);
    if (options.timeoutMs !== undefined) opening.timeoutMs = options.timeoutMs;
    core.health.set("connecting");
    try {
      const handlers = connection.handlers();
      await transport.start({
        ...handlers,
        closed: (error) => {
          handlers.closed(error);
          if (core.connection === connection) core.health.set("closed", error);
        },
      });
      const saved = await this.#saved();
      if (!(await this.#resume(connection, saved, opening))) {
        await this.#open(connection, opening, rememberedEra(saved));
      }
      if (core.modern && options.listen !== false) {
        await this.#parts.subscriptions.listen(opening);
      }
    } catch (error) {
      await connection.close().catch(() => undefined);
      core.health.set("closed", error);
      throw error;
    } finally {
      limit?.done();
    }
    core.health.set("ready");
    this.#startPinging();
  }

  /**
   * One send of a request: tried again after a transient failure when safe, the connection's
   * state following along (`reconnecting` while it waits, `ready` once one gets through).
   */
  async #send(
    method: string,
    retry: boolean | undefined,
    send: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const core = this.#core;
    // After a failed reopen, the next request opens the connection again before it goes.
    if (this.#broken && !this.#recovering) await this.#recover(core.modern);
    const attempt = async () => {
      await send();
      core.health.succeeded();
    };
    if (!(retry ?? safeMethod(method))) return attempt();
    await withRetry(attempt, core.retry, core.timers, signal, (tries, error, delayMs) => {
      if (core.health.state !== "connecting") core.health.set("reconnecting", error);
      core.warn({
        code: "retry",
        message: `${method} failed (try ${tries} of ${core.retry.attempts}); sending again in ${delayMs} ms`,
        detail: error,
      });
    });
  }

  /** With the ping option: pings until the connection closes, reopening it when it stays silent. */
  #startPinging(): void {
    const core = this.#core;
    const ping = core.ping;
    if (!ping) return;
    void keepPinging(
      ping,
      core.timers,
      core.life.signal,
      core.health,
      (timeoutMs) => this.#parts.ping(timeoutMs),
      () => this.#recover(core.modern),
    );
  }

  /**
   * Closes the connection. By default the server's session ends too and the stored session is
   * forgotten, keeping only the revision; `terminate: false` keeps both.
   */
  async close(options: { terminate?: boolean }): Promise<void> {
    const connection = this.#core.connection;
    if (!connection) return;
    const closed = new TransportError("ERR_CONNECTION_CLOSED", "The client closed the connection");
    this.#parts.subscriptions.close(closed);
    this.#core.life.abort(closed);
    this.#core.health.set("closed");
    await connection.close(options);
    await this.#saving;
    if (options.terminate === false) return;
    const { protocolVersion, origin } = this.#record;
    await this.#store.set(
      protocolVersion === undefined
        ? undefined
        : { protocolVersion, ...(origin !== undefined && { origin }) },
    );
  }

  /** Opens the 2025 GET stream when the caller asked for it, or something would hear it. */
  #listenIfWanted(): void {
    const core = this.#core;
    if (core.modern || this.#listen === false || !core.negotiated) return;
    if (this.#listen || wantsPush(core.options, core.negotiated.serverCapabilities)) {
      core.connection?.transport.listen?.();
    }
  }

  /** The stored state, if it belongs to this server. */
  async #saved(): Promise<ClientState | undefined> {
    const saved = await this.#store.get();
    if (saved?.origin !== undefined && saved.origin !== this.#origin) return undefined;
    return saved;
  }

  #httpTransport(url: string | URL, options: ConnectOptions): StreamableHttpClientTransport {
    const { maxMessageBytes } = this.#core.options;
    return new StreamableHttpClientTransport(url, {
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.headers && { headers: options.headers }),
      ...(options.authorizer && { authorizer: options.authorizer }),
      ...(options.reconnect && { reconnect: options.reconnect }),
      ...(options.listen !== undefined && { listen: options.listen }),
      ...(maxMessageBytes !== undefined && { maxMessageBytes }),
      strictHeaders: this.#core.strict.headers,
    });
  }

  /** Takes up a stored session if the server still knows it (a ping tells). */
  async #resume(
    connection: Connection,
    saved: ClientState | undefined,
    opening: RequestOptions,
  ): Promise<boolean> {
    const transport = connection.transport;
    if (!saved?.sessionId || !LEGACY_VERSIONS.includes(saved.protocolVersion)) return false;
    const snapshot = {
      protocolVersion: saved.protocolVersion,
      sessionId: saved.sessionId,
      lastEventId: saved.lastEventId,
    };
    if (!transport.restore?.(snapshot)) return false;
    try {
      await connection.request("ping", {}, opening, { recover: false });
    } catch (error) {
      if (!sessionLost(error)) throw error;
      transport.reset?.();
      return false;
    }
    this.#core.negotiated = {
      protocolVersion: saved.protocolVersion,
      serverInfo: saved.serverInfo ?? { name: "unknown", version: "unknown" },
      serverCapabilities: saved.serverCapabilities ?? {},
      ...(saved.instructions !== undefined && { instructions: saved.instructions }),
    };
    this.#record = saved;
    this.#listenIfWanted();
    return true;
  }

  async #open(
    connection: Connection,
    opening: RequestOptions,
    remembered: Era | undefined,
  ): Promise<void> {
    const core = this.#core;
    const { options } = core;
    const negotiated = await handshake(connection, {
      clientInfo: clientInfo(options),
      capabilities: declaredCapabilities(options, false),
      modernCapabilities: declaredCapabilities(options, true),
      ...(options.protocolVersion !== undefined && { protocolVersion: options.protocolVersion }),
      remembered,
      breach: (message) => core.breach(message),
      request: opening,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
    });
    core.negotiated = negotiated;
    this.#listenIfWanted();
    const record: ClientState = {
      ...this.#record,
      protocolVersion: negotiated.protocolVersion,
      serverInfo: negotiated.serverInfo,
      serverCapabilities: negotiated.serverCapabilities,
    };
    if (this.#origin !== undefined) record.origin = this.#origin;
    const sessionId = connection.transport.sessionId;
    if (sessionId !== undefined) record.sessionId = sessionId;
    if (negotiated.instructions !== undefined) record.instructions = negotiated.instructions;
    this.#record = record;
    this.#save();
  }

  /**
   * The server forgot the session: open a new one, once for every request that found out,
   * and restore what the old one held. The pings also use it to open a silent connection
   * afresh; `reprobe` for a 2026-07-28 one (the server/discover probe again).
   */
  #recover(reprobe = false): Promise<void> {
    const core = this.#core;
    const connection = core.connection;
    if (!connection || connection.closed) {
      return Promise.reject(new TransportError("ERR_CONNECTION_CLOSED", "Not connected"));
    }
    this.#recovering ??= (async () => {
      // Set before the handshake's requests look at it (they pass through #send).
      await undefined;
      core.health.set("reconnecting");
      this.#broken = true;
      connection.transport.reset?.();
      this.#record = {};
      // Sessions are a 2025 matter: the new one is opened the way the old one was.
      await this.#open(connection, {}, reprobe ? undefined : "legacy");
      // A 2026-07-28 level travels in each request's _meta: nothing to restore.
      if (core.logLevel !== undefined && !core.modern) {
        await connection.request(
          "logging/setLevel",
          { level: core.logLevel },
          {},
          { recover: false },
        );
      }
      await this.#parts.subscriptions.restore(connection);
      this.#broken = false;
      core.health.set("ready");
      if (!core.modern) core.hook(() => core.options.onSessionRestarted?.());
    })().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  #recoveryFailed(error: unknown): void {
    this.#core.warn({
      code: "session_recovery",
      message: "Could not open a new session",
      detail: error,
    });
  }

  #sessionChanged(update: SessionUpdate): void {
    const record = { ...this.#record };
    if ("sessionId" in update) {
      if (update.sessionId === undefined) delete record.sessionId;
      else record.sessionId = update.sessionId;
    }
    if ("lastEventId" in update) {
      if (update.lastEventId === undefined) delete record.lastEventId;
      else record.lastEventId = update.lastEventId;
    }
    this.#record = record;
    // Saved once the handshake settled the version; before that there is nothing to resume.
    if (this.#core.negotiated) this.#save();
  }

  #save(): void {
    const record = this.#record;
    if (record.protocolVersion === undefined) return;
    const state = { ...record } as ClientState;
    this.#saving = this.#saving
      .then(() => this.#store.set(state))
      .catch((error: unknown) =>
        this.#core.warn({
          code: "state_store",
          message: "Could not save the client state",
          detail: error,
        }),
      );
  }
}
