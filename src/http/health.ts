import type { Context } from "hono";
import { Hono } from "hono/tiny";
import type { Bus } from "../storage/bus.ts";
import type { Store } from "../storage/store.ts";
import { type Logger, resolveLogger } from "../util/log.ts";

/**
 * One readiness check: resolves when what it checks answers, throws (or rejects) when not.
 * `signal` aborts when the check has run out of time, so a fetch can be cancelled with it.
 */
export type HealthCheck = (signal: AbortSignal) => Promise<unknown> | unknown;

export interface HealthOptions {
  /** Checked by reading a fixed probe key: an answer (any, even none) means it is up. */
  store?: Store;
  /** Checked by publishing an empty message on a probe channel nobody listens to. */
  bus?: Bus;
  /** More checks by name (an upstream, a database of your own); names appear in the reply. */
  checks?: Readonly<Record<string, HealthCheck>>;
  /** How long each check may take before it counts as failed. Default 500 ms. */
  timeoutMs?: number;
  /** Where a check that starts or stops failing is reported. Default: stderr. */
  logger?: Logger;
}

/** The state of one check in a /readyz reply: no error text, which could carry an address. */
export type CheckState = "ok" | "failed" | "timeout";

const PROBE_KEY = "health:probe";
const PROBE_CHANNEL = "health:probe";
const DEFAULT_TIMEOUT_MS = 500;
const NO_STORE = { "Cache-Control": "no-store" };

/** A check of a Store: a read of a fixed probe key (any answer, even none, means it is up). */
export function storeCheck(store: Store): HealthCheck {
  return () => store.get(PROBE_KEY);
}

/** A check of a Bus: an empty message published on a probe channel nobody listens to. */
export function busCheck(bus: Bus): HealthCheck {
  return () => bus.publish(PROBE_CHANNEL, "");
}

/** Runs one check against its deadline; never throws. */
async function run(check: HealthCheck, timeoutMs: number): Promise<[CheckState, unknown]> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<[CheckState, unknown]>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(["timeout", undefined]);
    }, timeoutMs);
  });
  const outcome = (async (): Promise<[CheckState, unknown]> => {
    try {
      await check(controller.signal);
      return ["ok", undefined];
    } catch (error) {
      return ["failed", error];
    }
  })();
  try {
    return await Promise.race([outcome, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The checks to run: the Store's and the Bus's first, then the caller's own. */
function checksOf(options: HealthOptions): Map<string, HealthCheck> {
  const checks = new Map<string, HealthCheck>();
  const { store, bus } = options;
  if (store) checks.set("store", storeCheck(store));
  if (bus) checks.set("bus", busCheck(bus));
  for (const [name, check] of Object.entries(options.checks ?? {})) {
    if (checks.has(name)) throw new TypeError(`healthRoutes(): two checks are named "${name}"`);
    if (typeof check !== "function") {
      throw new TypeError(`healthRoutes(): the check "${name}" must be a function`);
    }
    checks.set(name, check);
  }
  return checks;
}

/**
 * Liveness and readiness probes in the form load balancers and Kubernetes expect, as a Hono
 * app to mount anywhere (`app.route("/", healthRoutes({ store, bus }))`):
 * - `GET /healthz` (and HEAD): 200 while the process answers at all; it checks nothing else,
 *   so a Store outage never gets a healthy process restarted.
 * - `GET /readyz` (and HEAD): 200 when every check answers within `timeoutMs`, else 503; the
 *   JSON body names each check and its state (`ok`, `failed`, `timeout`).
 * Neither needs credentials, and neither is cached.
 */
export function healthRoutes(options: HealthOptions = {}): Hono {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new TypeError("healthRoutes(): timeoutMs must be a number of milliseconds above 0");
  }
  const checks = checksOf(options);
  const logger = resolveLogger(options.logger);
  /** The checks failing at the last probe: a change is logged, not every probe. */
  const failing = new Set<string>();

  const note = (name: string, state: CheckState, error: unknown) => {
    if (state === "ok") {
      if (failing.delete(name)) logger.info("readiness check recovered", { check: name });
      return;
    }
    if (failing.has(name)) return;
    failing.add(name);
    logger.warn("readiness check failing", { check: name, state, error });
  };

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }, 200, NO_STORE));
  app.get("/readyz", async (c: Context) => {
    const results = await Promise.all(
      [...checks].map(async ([name, check]) => {
        const [state, error] = await run(check, timeoutMs);
        note(name, state, error);
        return [name, { status: state }] as const;
      }),
    );
    const ready = results.every(([, result]) => result.status === "ok");
    const body = { status: ready ? "ok" : "unavailable", checks: Object.fromEntries(results) };
    return c.json(body, ready ? 200 : 503, NO_STORE);
  });
  return app;
}
