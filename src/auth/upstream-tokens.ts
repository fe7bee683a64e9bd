import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import type { UpstreamAccess } from "../mcp/peer.ts";
import { AuthorizationRequired } from "../mcp/reauthorize.ts";
import type { Store } from "../storage/store.ts";
import type { Clock } from "../util/clock.ts";
import { randomToken } from "../util/crypto.ts";
import type { Logger } from "../util/log.ts";
import type { Sealer } from "../util/sealer.ts";
import { UpstreamRefusedError } from "./errors.ts";
import type { UpstreamTokenSet, UpstreamTokenSource } from "./login.ts";

export interface UpstreamTokensOptions {
  store: Store;
  sealer: () => Promise<Sealer>;
  source: UpstreamTokenSource;
  clock: Clock;
  logger: Logger;
  /** Ends the MCP grant of a caller whose upstream tokens are gone, so its refresh fails too. */
  revokeGrant: (gid: string, subject: string) => Promise<void>;
}

/**
 * Kept by subject, not by grant: every client of one user shares one upstream refresh chain,
 * so a provider that rotates refresh tokens never sees two copies of one.
 */
const tokensKey = (subject: string) => `upstream:${subject}`;
const lockKey = (subject: string) => `upstream-lock:${subject}`;
/** Longer than one refresh may take (the provider's requests time out after 10 s). */
const LOCK_TTL_MS = 30_000;
/** How often an instance that lost the lock looks for the winner's result (real time). */
const WAIT_STEPS_MS = [10, 20, 40, 80, 160, 250];

/**
 * What dropped tokens become: read as none. Written by compare-and-set, so tokens a new
 * sign-in stored since they were read are never lost, as they could be to a get, then delete.
 */
const DROPPED = "";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The outcome of a read: a token to return, the tokens gone, or a newer sealed value to refresh. */
type Seen = { token: string } | { gone: string } | { refresh: string; set: UpstreamTokenSet };

/**
 * Users' tokens at the upstream provider, sealed in the Store under `upstream:{subject}`:
 * kept at sign-in, handed to handlers through `ctx.upstream.token()`, refreshed when within
 * the provider's skew of expiry. Concurrent refreshes of one subject become one: on this
 * instance through one shared promise, across instances through a lock in the Store (`add`
 * with a TTL), whose losers wait for the winner's result. Tokens the provider will no longer
 * refresh are dropped, and the caller's grant with them, so the client signs in again.
 */
export class UpstreamTokens {
  readonly #options: UpstreamTokensOptions;
  readonly #skewSeconds: number;
  readonly #inflight = new Map<string, Promise<string>>();

  constructor(options: UpstreamTokensOptions) {
    this.#options = options;
    this.#skewSeconds = options.source.refreshSkewSeconds;
  }

  /** Keeps a user's tokens (at sign-in), replacing the ones kept before. */
  async keep(subject: string, tokens: UpstreamTokenSet): Promise<void> {
    await this.#options.store.set(tokensKey(subject), await this.#seal(tokens));
  }

  /** Seals a token set, its expiry made absolute by our clock. */
  async #seal(tokens: UpstreamTokenSet): Promise<string> {
    const set: UpstreamTokenSet = { ...tokens };
    if (typeof tokens.expires_in === "number")
      set.expires_at = Math.floor(this.#options.clock() / 1000) + tokens.expires_in;
    return (await this.#options.sealer()).seal(JSON.stringify(set));
  }

  /** Whether tokens are kept for a subject (a signed-in user without them signs in again). */
  async has(subject: string): Promise<boolean> {
    return !!(await this.#options.store.get<string>(tokensKey(subject)));
  }

  /** Drops a subject's tokens (their grant was revoked). */
  async discard(subject: string): Promise<void> {
    await this.#options.store.delete(tokensKey(subject));
  }

  /** What `ctx.upstream` is for a user's grant. */
  access(subject: string, gid: string | undefined): UpstreamAccess {
    return { token: () => this.token(subject, gid) };
  }

  /** A valid access token for the subject; refreshed first when due. */
  async token(subject: string, gid: string | undefined): Promise<string> {
    try {
      const sealed = await this.#options.store.get<string>(tokensKey(subject));
      const seen = await this.#judge(subject, sealed);
      if ("token" in seen) return seen.token;
      if ("gone" in seen) throw new AuthorizationRequired(seen.gone);
      let pending = this.#inflight.get(subject);
      if (!pending) {
        pending = this.#refresh(subject, seen.refresh, seen.set).finally(() =>
          this.#inflight.delete(subject),
        );
        this.#inflight.set(subject, pending);
      }
      return await pending;
    } catch (error) {
      // Each caller's own grant ends: its client's refresh fails, and it authorizes afresh.
      if (error instanceof AuthorizationRequired && gid !== undefined)
        await this.#options.revokeGrant(gid, subject);
      throw error;
    }
  }

  /** What a stored value means now; tokens that can never work again are dropped. */
  async #judge(subject: string, sealed: string | undefined): Promise<Seen> {
    if (!sealed) return { gone: "Sign in again: no upstream tokens are kept" };
    const opened = await (await this.#options.sealer()).open(sealed);
    const set = opened === undefined ? undefined : (JSON.parse(opened) as UpstreamTokenSet);
    if (set && this.#fresh(set)) return { token: set.access_token };
    if (set?.refresh_token) return { refresh: sealed, set };
    await this.#dropIf(subject, sealed);
    return { gone: "Sign in again: the upstream access token expired and cannot be refreshed" };
  }

  #fresh(set: UpstreamTokenSet): boolean {
    if (set.expires_at === undefined) return true;
    return set.expires_at - this.#skewSeconds > this.#options.clock() / 1000;
  }

  /** Deletes the stored tokens unless they changed since `sealed` was read (a new sign-in). */
  async #dropIf(subject: string, sealed: string): Promise<void> {
    await this.#options.store.compareAndSet(tokensKey(subject), sealed, DROPPED, {
      ttlMs: LOCK_TTL_MS,
    });
  }

  /**
   * Releases the lock only if it is still ours: held past its TTL, it may be another
   * instance's by now. Marked released first, so the delete cannot hit a newer holder's lock.
   */
  async #release(subject: string, ours: string): Promise<void> {
    const store = this.#options.store;
    const key = lockKey(subject);
    if (await store.compareAndSet(key, ours, `released ${ours}`, { ttlMs: LOCK_TTL_MS }))
      await store.delete(key);
  }

  async #refresh(subject: string, sealed: string, set: UpstreamTokenSet): Promise<string> {
    const store = this.#options.store;
    let seen: Seen = { refresh: sealed, set };
    for (let attempt = 0; attempt < 3; attempt++) {
      if ("token" in seen) return seen.token;
      if ("gone" in seen) throw new AuthorizationRequired(seen.gone);
      const ours = randomToken(8);
      if (await store.add(lockKey(subject), ours, { ttlMs: LOCK_TTL_MS })) {
        try {
          return await this.#refreshHolding(subject, seen.refresh, seen.set);
        } finally {
          await this.#release(subject, ours);
        }
      }
      seen = await this.#awaitOther(subject, seen.refresh);
    }
    throw new McpError(
      ErrorCode.InternalError,
      "The upstream tokens could not be refreshed just now; try again shortly",
    );
  }

  /** Refreshes while holding the lock; another instance may have refreshed just before. */
  async #refreshHolding(subject: string, sealed: string, set: UpstreamTokenSet): Promise<string> {
    const store = this.#options.store;
    const current = await store.get<string>(tokensKey(subject));
    if (current !== sealed) {
      const seen = await this.#judge(subject, current);
      if ("token" in seen) return seen.token;
      if ("gone" in seen) throw new AuthorizationRequired(seen.gone);
      return this.#refreshHolding(subject, seen.refresh, seen.set);
    }
    let next: UpstreamTokenSet;
    try {
      next = await this.#options.source.refresh(set.refresh_token!);
    } catch (error) {
      if (error instanceof UpstreamRefusedError) {
        this.#options.logger.info("the upstream provider refused a refresh: sign-in needed", {
          subject,
          reason: error.message,
        });
        await this.#dropIf(subject, sealed);
        throw new AuthorizationRequired(
          "Sign in again: the upstream provider no longer accepts this sign-in",
        );
      }
      this.#options.logger.warn("the upstream provider could not refresh tokens", {
        subject,
        error,
      });
      throw new McpError(
        ErrorCode.InternalError,
        "The upstream provider could not be reached to refresh the tokens; try again shortly",
      );
    }
    // Providers that do not rotate refresh tokens send none back: the old one stays valid.
    const merged: UpstreamTokenSet = {
      ...next,
      refresh_token: next.refresh_token ?? set.refresh_token!,
    };
    const replacement = await this.#seal(merged);
    if (await store.compareAndSet(tokensKey(subject), sealed, replacement))
      return merged.access_token;
    // Changed meanwhile: dropped with a revoked grant (gone), or a new sign-in (use it).
    const after = await this.#judge(subject, await store.get<string>(tokensKey(subject)));
    if ("token" in after) return after.token;
    throw new AuthorizationRequired("Sign in again: the upstream tokens were discarded");
  }

  /** Waits (real time) while another instance holds the lock, for what it stores. */
  async #awaitOther(subject: string, sealed: string): Promise<Seen> {
    const store = this.#options.store;
    const deadline = Date.now() + LOCK_TTL_MS;
    for (let step = 0; Date.now() < deadline; step++) {
      await delay(WAIT_STEPS_MS[Math.min(step, WAIT_STEPS_MS.length - 1)]!);
      const current = await store.get<string>(tokensKey(subject));
      if (current !== sealed) return this.#judge(subject, current);
      // The holder gave up without a change (it failed): try for the lock again.
      if ((await store.get(lockKey(subject))) === undefined) break;
    }
    const current = await store.get<string>(tokensKey(subject));
    return this.#judge(subject, current);
  }
}
