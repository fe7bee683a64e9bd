/**
 * Sending a request again when the network or the server failed it on the way: exponential
 * backoff with full jitter, only for requests that are safe to send twice.
 */
import { TransportError } from "./errors.ts";

/** Waits; the injectable time source of the client's backoff, pings and connect limit. */
export interface ClientTimers {
  /** Resolves after `ms`; rejects with the signal's reason once it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** How failed requests are sent again. */
export interface RetryOptions {
  /** Tries in all, the first included; 1 turns retrying off. Default 3. */
  attempts?: number;
  /** The ceiling of the first wait; it doubles per attempt. Default 250 ms. */
  baseDelayMs?: number;
  /** The longest wait. Default 5 s. */
  maxDelayMs?: number;
  /** In [0, 1): the jitter. Default Math.random. */
  random?: () => number;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  random: () => number;
}

/** Real time: setTimeout, cleared when the signal aborts. */
export const systemTimers: ClientTimers = {
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

function whole(value: number | undefined, fallback: number, name: string, min: number): number {
  const chosen = value ?? fallback;
  if (!Number.isFinite(chosen) || chosen < min) {
    throw new TypeError(`retry.${name} must be a finite number of at least ${min}`);
  }
  return chosen;
}

/** The policy with its defaults; a value out of range is refused here, at construction. */
export function resolveRetry(options: RetryOptions | false | undefined): RetryPolicy {
  if (options === false) return { attempts: 1, baseDelayMs: 0, maxDelayMs: 0, random: Math.random };
  const policy = {
    attempts: Math.floor(whole(options?.attempts, 3, "attempts", 1)),
    baseDelayMs: whole(options?.baseDelayMs, 250, "baseDelayMs", 0),
    maxDelayMs: whole(options?.maxDelayMs, 5_000, "maxDelayMs", 0),
    random: options?.random ?? Math.random,
  };
  return policy;
}

/** Full jitter: a uniform wait up to the doubled ceiling (attempt counts from 1). */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  // A random source outside [0, 1) cannot stretch or break the wait.
  const draw = Math.min(Math.max(policy.random(), 0), 1);
  return Math.floor((Number.isNaN(draw) ? 1 : draw) * ceiling);
}

/**
 * Methods that change nothing on the server, or change it the same way however often they are
 * sent. A tools/call is not among them: it is safe only when its tool says so (readOnlyHint or
 * idempotentHint) or its caller does.
 */
const SAFE_METHODS = new Set([
  "initialize",
  "server/discover",
  "ping",
  "tools/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "tasks/get",
  "tasks/list",
  "tasks/result",
]);

export function safeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

/**
 * Failures a later try may not meet: the request never reached the server, or the server
 * (or a proxy before it) failed with a 5xx. 501 and 505 are answers, not accidents.
 */
export function transient(error: unknown): boolean {
  if (!(error instanceof TransportError)) return false;
  if (error.code === "ERR_NETWORK") return true;
  const status = error.status;
  return (
    error.code === "ERR_HTTP_STATUS" &&
    status !== undefined &&
    status >= 500 &&
    status !== 501 &&
    status !== 505
  );
}

/** A signal that aborts with ERR_TIMEOUT once `ms` pass, and `done()` to stop the wait. */
export function timeLimit(
  timers: ClientTimers,
  ms: number,
  message: string,
): { signal: AbortSignal; done(): void } {
  const limit = new AbortController();
  const stop = new AbortController();
  timers.sleep(ms, stop.signal).then(
    () => limit.abort(new TransportError("ERR_TIMEOUT", message)),
    () => undefined,
  );
  return { signal: limit.signal, done: () => stop.abort() };
}

/**
 * Runs `send` until it succeeds, fails for good, or the tries run out, waiting between tries.
 * `onRetry` hears of each failure that will be tried again, before the wait.
 */
export async function withRetry(
  send: () => Promise<void>,
  policy: RetryPolicy,
  timers: ClientTimers,
  signal: AbortSignal,
  onRetry: (attempt: number, error: unknown, delayMs: number) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (attempt >= policy.attempts || !transient(error) || signal.aborted) throw error;
      const delay = retryDelay(policy, attempt);
      onRetry(attempt, error, delay);
      await timers.sleep(delay, signal);
    }
  }
}
