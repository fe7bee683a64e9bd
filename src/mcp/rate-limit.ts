import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { sha256 } from "../util/crypto.ts";
import { type Logger, logs, resolveLogger } from "../util/log.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import type { Middleware, MiddlewareContext } from "./middleware.ts";
import { type AuthInfo, principalOf } from "./peer.ts";

/** At most `limit` requests in each window of `windowSeconds` seconds (fixed windows). */
export interface RateRule {
  limit: number;
  windowSeconds: number;
}

export interface RateLimitOptions {
  /** Where the counters live; share one (Redis, Durable Objects) to limit across instances. */
  store: Store;
  /** Every request of one caller, whatever it asks for. */
  perSubject?: RateRule;
  /** Calls of one tool by one caller, counted apart from `perSubject`, by tool name. */
  perTool?: Readonly<Record<string, RateRule>>;
  /**
   * Who a request counts against; undefined: it is not limited. Default: the verified
   * caller's issuer and subject (all of a user's clients share one budget), and requests with
   * no verified caller are not limited. On an open endpoint, key by address from `ctx.http`.
   */
  key?: (ctx: MiddlewareContext) => string | undefined;
  /** Epoch ms now. Default Date.now. */
  clock?: Clock;
  /** Where refusals are reported (info). Default: lines on stderr. */
  logger?: Logger;
  /** Prefix of the counters' keys in the Store. Default "mcp:rl:". */
  prefix?: string;
}

/** Longest window: a day. */
const MAX_WINDOW_SECONDS = 86_400;

/**
 * A request refused by {@link rateLimit}: JSON-RPC error -32029 in both eras, whose `data`
 * says when to try again (`retryAfterSeconds`) and which limit was hit. Middleware added
 * before the limiter sees it as `ctx.error`.
 */
export class RateLimited extends McpError {
  /** Whole seconds until the window that refused the request ends (at least 1). */
  readonly retryAfterSeconds: number;
  /** "subject": the caller's budget for all requests; "tool": its budget for one tool. */
  readonly scope: "subject" | "tool";
  readonly tool: string | undefined;
  readonly limit: number;
  readonly windowSeconds: number;

  constructor(scope: "subject" | "tool", rule: RateRule, retryAfterSeconds: number, tool?: string) {
    const what =
      scope === "tool" ? `${rule.limit} calls of tool "${tool}"` : `${rule.limit} requests`;
    const data: Record<string, unknown> = {
      retryAfterSeconds,
      scope,
      limit: rule.limit,
      windowSeconds: rule.windowSeconds,
    };
    if (tool !== undefined) data.tool = tool;
    super(
      ErrorCode.RateLimited,
      `Rate limit exceeded: at most ${what} per ${rule.windowSeconds} s; retry in ${retryAfterSeconds} s`,
      data,
    );
    this.name = "RateLimited";
    this.retryAfterSeconds = retryAfterSeconds;
    this.scope = scope;
    this.tool = tool;
    this.limit = rule.limit;
    this.windowSeconds = rule.windowSeconds;
  }
}

/** The default key: the token's issuer and subject, else who the caller is as a whole. */
export function subjectKey(auth: AuthInfo | undefined): string | undefined {
  if (!auth) return undefined;
  if (auth.subject === undefined || auth.subject === "") return principalOf(auth);
  const issuer = typeof auth.claims?.iss === "string" ? auth.claims.iss : "";
  return JSON.stringify(["sub", issuer, auth.subject]);
}

function checkRule(rule: unknown, name: string): RateRule {
  const { limit, windowSeconds } = (rule ?? {}) as Partial<RateRule>;
  if (!Number.isSafeInteger(limit) || (limit as number) < 1) {
    throw new TypeError(`rateLimit: ${name}.limit must be a whole number of requests, 1 or more`);
  }
  if (
    !Number.isSafeInteger(windowSeconds) ||
    (windowSeconds as number) < 1 ||
    (windowSeconds as number) > MAX_WINDOW_SECONDS
  ) {
    throw new TypeError(
      `rateLimit: ${name}.windowSeconds is in seconds: a whole number from 1 to ${MAX_WINDOW_SECONDS}`,
    );
  }
  return { limit: limit as number, windowSeconds: windowSeconds as number };
}

/**
 * Per-subject and per-tool rate limits as middleware (`mcp.use(rateLimit({ … }))`), counted
 * with `Store.increment` in fixed windows on the injected clock, so every instance sharing the
 * Store shares the limits. A request over a limit is refused with {@link RateLimited} before
 * its handler runs; what the access rules refuse never reaches the limiter, so it costs
 * nothing. A Store that cannot be reached fails the request rather than lift the limit.
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  if (typeof options?.store?.increment !== "function") {
    throw new TypeError("rateLimit: store must be a Store");
  }
  const perSubject =
    options.perSubject === undefined ? undefined : checkRule(options.perSubject, "perSubject");
  const perTool = new Map<string, RateRule>();
  for (const [tool, rule] of Object.entries(options.perTool ?? {})) {
    perTool.set(tool, checkRule(rule, `perTool["${tool}"]`));
  }
  if (!perSubject && perTool.size === 0) {
    throw new TypeError("rateLimit: give perSubject, perTool or both");
  }
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const logger = resolveLogger(options.logger);
  const prefix = options.prefix ?? "mcp:rl:";
  const keyOf = options.key ?? ((ctx: MiddlewareContext) => subjectKey(ctx.auth));

  /** Counts one request against a rule; the refusal when it is over. */
  const count = async (
    bucket: string,
    rule: RateRule,
    scope: "subject" | "tool",
    tool?: string,
  ): Promise<RateLimited | undefined> => {
    const now = clock() / 1000;
    const window = Math.floor(now / rule.windowSeconds);
    const counted = await store.increment(`${prefix}${bucket}:${rule.windowSeconds}:${window}`, 1, {
      ttlMs: rule.windowSeconds * 1000,
    });
    if (counted <= rule.limit) return undefined;
    const retryAfter = Math.max(1, Math.ceil((window + 1) * rule.windowSeconds - now));
    return new RateLimited(scope, rule, retryAfter, tool);
  };

  return async (ctx, next) => {
    const key = keyOf(ctx);
    if (key === undefined) return next();
    const tool = ctx.method === "tools/call" ? ctx.name : undefined;
    const toolRule = tool === undefined ? undefined : perTool.get(tool);
    if (!perSubject && !toolRule) return next();
    const hashed = await sha256(key);
    let refused = perSubject && (await count(`subject:${hashed}`, perSubject, "subject"));
    if (!refused && toolRule) {
      refused = await count(`tool:${await sha256(tool!)}:${hashed}`, toolRule, "tool", tool);
    }
    if (!refused) return next();
    if (logs(logger, "info")) {
      logger.info("rate limit hit", {
        rpc_method: ctx.method,
        subject: ctx.auth?.subject,
        client_id: ctx.auth?.clientId,
        limit_scope: refused.scope,
        tool: refused.tool,
        limit: refused.limit,
        window_seconds: refused.windowSeconds,
        retry_after_seconds: refused.retryAfterSeconds,
      });
    }
    throw refused;
  };
}
