import type { McpClient } from "../client/client.ts";
import type { ClientTimers } from "../client/retry.ts";
import type { ClientTransport } from "../client/transport.ts";
import type { EventStore } from "../http/event-store.ts";
import type { TaskOptions } from "../mcp/tasks/options.ts";
import type { ProtocolVersion } from "../mcp/versions.ts";
import type { EndpointAuth } from "../resource/protect.ts";
import type { Clock } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";

/** One MCP server behind the gateway. */
export interface UpstreamOptions {
  /**
   * Names the upstream: its tools and prompts are published as `<name>_<tool>`, its resource
   * URIs as `<name>+<uri>`. 1 to 32 of a-z, 0-9 and "-", starting with a letter.
   */
  name: string;
  /**
   * false publishes the upstream's tool and prompt names and resource URIs as they are, not
   * under its name: for a gateway in front of one server (names that collide with another
   * upstream's are left out, with a warning). Default true.
   */
  namespace?: boolean;
  /** An upstream over Streamable HTTP: its MCP endpoint. */
  url?: string | URL;
  /**
   * Any other upstream: makes the transport of one new connection (for a program over stdio,
   * `stdioUpstream` from portcullis/node). Called again for each restart and each user.
   */
  transport?: () => ClientTransport;
  /** Fixed headers to an HTTP upstream (its own credentials, from configuration). */
  headers?: Readonly<Record<string, string>>;
  /** The fetch for an HTTP upstream. Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * "shared" (default): one connection for every caller. "per-user": one per token subject,
   * opened on its first request, closed after `idleMs` without one, at most `maxInstances`.
   */
  isolation?: "shared" | "per-user";
  /** Scopes a caller's token needs per tool, by the upstream's tool name; step up on 403. */
  scopes?: Readonly<Record<string, readonly string[]>>;
  /** Scopes every tool, prompt and resource of this upstream needs besides. Default none. */
  requiredScopes?: readonly string[];
  /**
   * A header that carries the caller's token subject to an HTTP upstream (per-user only, so
   * that one connection speaks for one person). The caller's token itself never goes upstream.
   */
  identityHeader?: string;
  /** Per-user: how many connections may be open at once. Default 50. */
  maxInstances?: number;
  /** Per-user: how long a connection stays open without requests. Default 15 minutes. */
  idleMs?: number;
}

export interface GatewayOptions {
  upstreams: readonly UpstreamOptions[];
  /**
   * Protects the endpoint: the built-in `authorizationServer(...)` or `{ issuer }` of a
   * third-party one. Required: a gateway exists to put OAuth in front of servers without it.
   */
  auth: EndpointAuth;
  /** Where the endpoint is mounted. Default "/mcp". */
  path?: string;
  /** The gateway's name and version as clients see them. Default "portcullis-gateway". */
  name?: string;
  version?: string;
  /** Seals 2026-07-28 requestState; see McpServerOptions.secret. */
  secret?: string;
  /** Revisions offered downstream, newest first. Default: all. */
  protocolVersions?: readonly ProtocolVersion[];
  /** Epoch ms now: idle limits and input rounds. Default Date.now. */
  clock?: Clock;
  logger?: Logger;
  /**
   * How a crashed upstream is restarted: the ceiling of the first wait (500 ms), doubled per
   * failed try up to `maxMs` (30 s), each wait drawn at random below its ceiling (jitter).
   */
  restart?: { initialMs?: number; maxMs?: number };
  /** What restart backoff waits with. Default real timers that keep no process alive. */
  timers?: ClientTimers;
  /** How long an upstream may take to start and answer its handshake. Default 30 s. */
  startTimeoutMs?: number;
  /** How long a forwarded request may wait for the upstream. Default 10 minutes. */
  callTimeoutMs?: number;
  /** How long a question put to a 2026-07-28 client may wait for its retry. Default 10 minutes. */
  inputTtlMs?: number;
  /**
   * Tasks at the gateway, for upstream tools listed with `taskSupport` (store, lifetimes; see
   * McpServerOptions.tasks). The gateway's task runs the forwarded call; its id is the
   * gateway's own, bound to the caller, so no upstream task id ever reaches a caller.
   */
  tasks?: TaskOptions;
  /**
   * Called with the client of each new upstream connection (each restart and each user)
   * before it connects: add client middleware here, e.g. `instrumentClient` from
   * portcullis/otel so a trace runs from the caller through the gateway to the upstream.
   */
  upstreamClient?: (client: McpClient, upstream: string) => void;
  /** Makes the endpoint's SSE streams resumable with Last-Event-ID; see mcpApp. Default none. */
  eventStore?: EventStore;
}

export interface ResolvedUpstream extends UpstreamOptions {
  isolation: "shared" | "per-user";
  maxInstances: number;
  idleMs: number;
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const HEADER = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function positive(value: number | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value > 0)) {
    throw new TypeError(`gateway(): ${what} must be a positive number`);
  }
  return value;
}

/** Checks the upstreams at construction; throws TypeError naming the mistake. */
export function resolveUpstreams(upstreams: readonly UpstreamOptions[]): ResolvedUpstream[] {
  if (!Array.isArray(upstreams) || upstreams.length === 0) {
    throw new TypeError("gateway(): give at least one upstream");
  }
  const names = new Set<string>();
  return upstreams.map((upstream) => {
    const { name } = upstream;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new TypeError(
        `gateway(): upstream name ${JSON.stringify(name)} must be 1 to 32 of a-z, 0-9 and "-", starting with a letter`,
      );
    }
    if (names.has(name)) throw new TypeError(`gateway(): two upstreams are named "${name}"`);
    names.add(name);
    if ((upstream.url === undefined) === (upstream.transport === undefined)) {
      throw new TypeError(`gateway(): upstream "${name}" needs exactly one of url and transport`);
    }
    if (upstream.url !== undefined) {
      const url = URL.canParse(String(upstream.url)) ? new URL(String(upstream.url)) : undefined;
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
        throw new TypeError(`gateway(): upstream "${name}" has a url that is not http(s)`);
      }
    }
    if (upstream.namespace !== undefined && typeof upstream.namespace !== "boolean") {
      throw new TypeError(`gateway(): upstream "${name}": namespace must be true or false`);
    }
    const isolation = upstream.isolation ?? "shared";
    if (isolation !== "shared" && isolation !== "per-user") {
      throw new TypeError(`gateway(): upstream "${name}" isolation must be "shared" or "per-user"`);
    }
    if (upstream.identityHeader !== undefined) {
      if (upstream.url === undefined || isolation !== "per-user") {
        throw new TypeError(
          `gateway(): upstream "${name}": identityHeader needs an HTTP upstream with per-user isolation`,
        );
      }
      if (
        !HEADER.test(upstream.identityHeader) ||
        /^authorization$/i.test(upstream.identityHeader)
      ) {
        throw new TypeError(`gateway(): upstream "${name}": identityHeader is not a usable header`);
      }
    }
    for (const [tool, scopes] of Object.entries(upstream.scopes ?? {})) {
      if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string" && s)) {
        throw new TypeError(`gateway(): upstream "${name}": scopes of "${tool}" must be strings`);
      }
    }
    return {
      ...upstream,
      isolation,
      maxInstances: Math.floor(
        positive(upstream.maxInstances, `upstream "${name}" maxInstances`, 50),
      ),
      idleMs: positive(upstream.idleMs, `upstream "${name}" idleMs`, 15 * 60_000),
    };
  });
}

export interface Timing {
  clock: Clock;
  restartInitialMs: number;
  restartMaxMs: number;
  startTimeoutMs: number;
  callTimeoutMs: number;
}

export function resolveTiming(options: GatewayOptions, clock: Clock): Timing {
  const restartInitialMs = positive(options.restart?.initialMs, "restart.initialMs", 500);
  return {
    clock,
    restartInitialMs,
    restartMaxMs: Math.max(
      restartInitialMs,
      positive(options.restart?.maxMs, "restart.maxMs", 30_000),
    ),
    startTimeoutMs: positive(options.startTimeoutMs, "startTimeoutMs", 30_000),
    callTimeoutMs: positive(options.callTimeoutMs, "callTimeoutMs", 10 * 60_000),
  };
}

/** Real timers that do not keep a process alive: a pending restart alone is no reason to run. */
export const backgroundTimers: ClientTimers = {
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      (timer as { unref?: () => void }).unref?.();
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
