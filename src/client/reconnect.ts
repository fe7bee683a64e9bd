/** How dropped SSE streams are taken up again. */
export interface ReconnectOptions {
  /** Reconnections in a row that bring nothing before giving up. Default 5. */
  maxAttempts?: number;
  /** The first delay when the server sent no `retry`. Default 1000 ms. */
  delayMs?: number;
  /** The longest delay between attempts (they double). Default 30 s. */
  maxDelayMs?: number;
}

export type ReconnectPolicy = Required<ReconnectOptions>;

export function resolveReconnect(options: ReconnectOptions = {}): ReconnectPolicy {
  return {
    maxAttempts: options.maxAttempts ?? 5,
    delayMs: options.delayMs ?? 1_000,
    maxDelayMs: options.maxDelayMs ?? 30_000,
  };
}

/** The wait before attempt `attempt` (from 1): `base` doubled each time, up to the maximum. */
export function backoff(policy: ReconnectPolicy, attempt: number, base = policy.delayMs): number {
  return Math.min(base * 2 ** (attempt - 1), policy.maxDelayMs);
}
