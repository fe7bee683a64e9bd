/** How long each kind of token and code lives. */
export interface TokenLifetimes {
  /** Seconds. Default 3600. */
  accessToken: number;
  /** Seconds. Default 30 days. */
  refreshToken: number;
  /** Seconds. Default 60. */
  code: number;
  /**
   * Milliseconds in which a rotated refresh token may be presented again while its successor
   * is unused (the client lost our response): the retry gets that same successor back. 0: every
   * refresh token is strictly single-use. Default 10 s.
   */
  refreshGraceMs: number;
}

export function resolveLifetimes(lifetimes: Partial<TokenLifetimes> = {}): TokenLifetimes {
  const grace = lifetimes.refreshGraceMs;
  if (grace !== undefined && !(Number.isInteger(grace) && grace >= 0)) {
    throw new TypeError("lifetimes.refreshGraceMs must be a whole number of milliseconds >= 0");
  }
  return {
    accessToken: lifetimes.accessToken ?? 3600,
    refreshToken: lifetimes.refreshToken ?? 30 * 86_400,
    code: lifetimes.code ?? 60,
    refreshGraceMs: lifetimes.refreshGraceMs ?? 10_000,
  };
}
