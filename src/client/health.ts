/**
 * Where a connection stands, for the app to watch: its state and the change events, and the
 * periodic ping that notices a server gone quiet before a caller does.
 */
import type { ClientTimers } from "./retry.ts";

/**
 * - `idle`: never connected.
 * - `connecting`: the opening handshake runs.
 * - `ready`: connected, and the last exchange with the server went through.
 * - `unhealthy`: a ping failed; requests still go out, and the next success clears it.
 * - `reconnecting`: a request waits to be sent again, or a new session (2025) or a new
 *   handshake replaces the old one.
 * - `closed`: closed by the app, or the connection failed for good.
 */
export type ConnectionState =
  | "idle"
  | "connecting"
  | "ready"
  | "unhealthy"
  | "reconnecting"
  | "closed";

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** What caused a change to `unhealthy`, `reconnecting` or `closed`, when an error did. */
  error?: unknown;
}

/** The periodic ping (off unless `intervalMs` is given). */
export interface PingOptions {
  /** Time between pings, counted from the end of the last. */
  intervalMs: number;
  /** How long one ping waits for its reply. Default 10 s. */
  timeoutMs?: number;
  /**
   * Failed pings in a row after which the connection is opened afresh (a new initialize, or
   * the 2026-07-28 probe again). Default 2.
   */
  maxFailures?: number;
}

export interface ResolvedPing {
  intervalMs: number;
  timeoutMs: number;
  maxFailures: number;
}

/** The ping settings with their defaults; refused at construction when out of range. */
export function resolvePing(options: PingOptions | undefined): ResolvedPing | undefined {
  if (options === undefined) return undefined;
  const ping = {
    intervalMs: options.intervalMs,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxFailures: options.maxFailures ?? 2,
  };
  for (const [name, value] of Object.entries(ping)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new TypeError(`ping.${name} must be a positive finite number`);
    }
  }
  return ping;
}

/** One client's connection state and who hears of its changes. */
export class Health {
  #state: ConnectionState = "idle";
  readonly #listeners = new Set<(change: StateChange) => void>();
  readonly #report: (error: unknown) => void;

  /** `report` hears what a listener threw. */
  constructor(report: (error: unknown) => void) {
    this.#report = report;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Adds a listener; the returned function removes it. */
  watch(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  set(state: ConnectionState, error?: unknown): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    const change: StateChange = { state, previous };
    if (error !== undefined) change.error = error;
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (thrown) {
        this.#report(thrown);
      }
    }
  }

  /** An exchange went through: a troubled connection is connected again. */
  succeeded(): void {
    if (this.#state === "unhealthy" || this.#state === "reconnecting") this.set("ready");
  }
}

/**
 * Pings every `intervalMs` until `signal` aborts. A failure marks the connection unhealthy;
 * `maxFailures` in a row open it afresh with `reopen` (whose failure counts as one more).
 */
export async function keepPinging(
  ping: ResolvedPing,
  timers: ClientTimers,
  signal: AbortSignal,
  health: Health,
  send: (timeoutMs: number) => Promise<void>,
  reopen: () => Promise<void>,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    try {
      await timers.sleep(ping.intervalMs, signal);
    } catch {
      return;
    }
    // After a failed reopen the connection holds nothing to ping with: reopen straight away.
    if (failures < ping.maxFailures) {
      try {
        await send(ping.timeoutMs);
        failures = 0;
        health.succeeded();
        continue;
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        health.set("unhealthy", error);
      }
      if (failures < ping.maxFailures) continue;
    }
    try {
      await reopen();
      failures = 0;
    } catch (error) {
      if (signal.aborted) return;
      health.set("unhealthy", error);
    }
  }
}
