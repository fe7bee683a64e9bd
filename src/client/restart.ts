/**
 * Opening a connection again after it ended unasked (a stdio server that crashed, an HTTP
 * server that went away): exponential backoff with full jitter, a bounded or unbounded
 * number of tries per outage, waiting on injectable timers.
 */
import { retryDelay } from "./retry.ts";

/** How the connection manager restarts a connection that ended unasked. */
export interface RestartOptions {
  /** Tries per outage before giving up; Infinity (default) never gives up. */
  attempts?: number;
  /** The ceiling of the first wait; it doubles per try. Default 500 ms. */
  baseDelayMs?: number;
  /** The longest wait. Default 30 s. */
  maxDelayMs?: number;
  /** In [0, 1): the jitter. Default Math.random. */
  random?: () => number;
}

export interface RestartPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  random: () => number;
}

/** The policy with its defaults, or undefined for none; out-of-range values are refused here. */
export function resolveRestart(
  options: RestartOptions | false | undefined,
): RestartPolicy | undefined {
  if (options === undefined || options === false) return undefined;
  const attempts = options.attempts ?? Number.POSITIVE_INFINITY;
  if (!(attempts >= 1) || (Number.isFinite(attempts) && !Number.isInteger(attempts))) {
    throw new TypeError("restart.attempts must be a whole number of at least 1, or Infinity");
  }
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  for (const [name, value] of [
    ["baseDelayMs", baseDelayMs],
    ["maxDelayMs", maxDelayMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new TypeError(`restart.${name} must be a finite number of at least 0`);
    }
  }
  return { attempts, baseDelayMs, maxDelayMs, random: options.random ?? Math.random };
}

/** The wait before try `attempt` (from 1) of an outage: full jitter up to the doubled ceiling. */
export function restartDelay(policy: RestartPolicy, attempt: number): number {
  return retryDelay({ ...policy, attempts: 1 }, attempt);
}
