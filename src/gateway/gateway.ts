import type { Hono } from "hono";
import { ConnectionManager } from "../client/manager.ts";
import type { HealthCheck } from "../http/health.ts";
import { mcpApp } from "../http/route.ts";
import { McpServer } from "../mcp/server.ts";
import { systemClock } from "../util/clock.ts";
import { PortcullisError } from "../util/errors.ts";
import { resolveLogger } from "../util/log.ts";
import { Catalog, readOffer } from "./catalog.ts";
import {
  backgroundTimers,
  type GatewayOptions,
  resolveTiming,
  resolveUpstreams,
  type UpstreamOptions,
} from "./options.ts";
import { Parking } from "./relay.ts";
import { forwardSkills, skillsOf } from "./skills.ts";
import { sessionHolder, subscriptionRelay } from "./subscriptions.ts";
import { Upstream, type UpstreamStatus } from "./upstream.ts";

/** An upstream could not start (or tell what it offers) when the gateway started. */
export class GatewayStartError extends PortcullisError {
  declare readonly code: "ERR_UPSTREAM_START";
  /** The upstream that failed. */
  readonly upstream: string;

  constructor(upstream: string, options: { cause?: unknown }) {
    const why = options.cause instanceof Error ? `: ${options.cause.message}` : "";
    super("ERR_UPSTREAM_START", `The upstream "${upstream}" could not start${why}`, options);
    this.name = "GatewayStartError";
    this.upstream = upstream;
  }
}

/** A running gateway: its Hono app and its upstreams. */
export interface Gateway {
  /** Serves the protected endpoint, the authorization server, metadata, /healthz and /readyz. */
  readonly app: Hono;
  /** The McpServer the upstreams are published on (add native tools or middleware here). */
  readonly server: McpServer;
  /** Each upstream's state. */
  status(): UpstreamStatus[];
  /** Closes per-user connections idle for too long; also done before each request. */
  reap(): number;
  /** Closes every upstream connection. */
  close(): Promise<void>;
}

/**
 * Puts OAuth and both protocol eras in front of existing MCP servers: starts the upstreams,
 * publishes their tools, prompts and resources under their names on one protected Streamable
 * HTTP endpoint, and forwards each request on the caller's behalf. The caller's token never
 * reaches an upstream. Rejects with GatewayStartError when an upstream cannot start.
 *
 * ```ts
 * const gw = await gateway({
 *   upstreams: [
 *     { name: "fs", transport: () => stdioUpstream({ command: "npx", args: [...] }),
 *       scopes: { write_file: ["fs:write"] } },
 *   ],
 *   auth: authorizationServer({ store: memoryStore(), login: devLogin() }),
 * });
 * serve(gw.app, { port: 3000 });
 * ```
 */
export async function gateway(options: GatewayOptions): Promise<Gateway> {
  const resolved = resolveUpstreams(options.upstreams);
  if (!options.auth) throw new TypeError("gateway(): auth is required");
  const clock = options.clock ?? systemClock;
  const timing = resolveTiming(options, clock);
  const logger = resolveLogger(options.logger);
  const inputTtlMs = options.inputTtlMs ?? 10 * 60_000;
  const server = new McpServer({
    name: options.name ?? "portcullis-gateway",
    version: options.version ?? "1.0.0",
    clock,
    logger,
    inputTtlMs,
    tasks: { clock, ...options.tasks },
    ...(options.secret !== undefined && { secret: options.secret }),
    ...(options.protocolVersions && { protocolVersions: options.protocolVersions }),
  });
  // Every upstream connection is an entry here: it opens them and restarts those that end
  // unasked. Per-user connections are reaped by the gateway's own idle rule, not the manager's.
  const manager = new ConnectionManager({
    client: { name: "portcullis-gateway", version: "1" },
    idleTimeoutMs: 0,
    clock,
    timers: options.timers ?? backgroundTimers,
    restart: { baseDelayMs: timing.restartInitialMs, maxDelayMs: timing.restartMaxMs },
    onStateChange: (connection, change) => {
      if (change.state !== "reconnecting" || change.previous !== "closed") return;
      const { restarting } = manager.status(connection)[connection] ?? {};
      logger.warn("upstream ended; restarting", {
        connection,
        error: change.error,
        ...(restarting && { attempt: restarting.attempt, delay_ms: restarting.delayMs }),
      });
    },
  });
  const parking = new Parking(clock, inputTtlMs);
  const catalogs = new Map<string, Catalog>();
  const upstreams: Upstream[] = resolved.map((upstreamOptions) => {
    let refreshing = false;
    const upstream: Upstream = new Upstream(upstreamOptions, {
      manager,
      timing,
      logger,
      parking,
      upstreamClient: options.upstreamClient,
      resourceUpdated: (uri, user) =>
        server.resourceUpdated(upstream.uriOf(uri), user === undefined ? {} : { user }),
      userListChanged: (user, list) => server.listChangedFor(user, list),
      // Read the offer again when the upstream says it changed (or came back after a crash).
      listChanged: () => {
        const link = upstream.shared;
        if (refreshing || link?.state !== "ready") return;
        refreshing = true;
        readOffer(link.client)
          .then((offer) => catalogs.get(upstream.name)?.publish(offer))
          .catch((error: unknown) =>
            logger.warn("upstream offer unreadable", { upstream: upstream.name, error }),
          )
          .finally(() => {
            refreshing = false;
          });
      },
    });
    catalogs.set(upstream.name, new Catalog(server, upstream, logger));
    return upstream;
  });
  const skilled: Parameters<typeof forwardSkills>[1][number][] = [];
  const close = async () => {
    parking.clear();
    await Promise.all(upstreams.map((upstream) => upstream.close()));
    await manager.close();
  };
  await Promise.all(
    upstreams.map(async (upstream) => {
      try {
        const link = await upstream.start();
        catalogs.get(upstream.name)!.publish(await readOffer(link.client));
        const settings = skillsOf(link.client.serverCapabilities);
        if (settings) skilled.push({ upstream, settings });
        // A per-user upstream was started only to learn its offer.
        if (upstream.options.isolation === "per-user") await link.close();
      } catch (error) {
        throw new GatewayStartError(upstream.name, { cause: error });
      }
    }),
  ).catch(async (error: unknown) => {
    await close();
    throw error;
  });
  forwardSkills(server, skilled);
  const checks: Record<string, HealthCheck> = {};
  for (const upstream of upstreams) {
    checks[`upstream:${upstream.name}`] = () => {
      const { state } = upstream.status();
      if (state !== "ready") throw new Error(`upstream ${upstream.name} is ${state}`);
    };
  }
  server.use((_info, next) => {
    for (const upstream of upstreams) upstream.reap();
    return next();
  });
  server.use(subscriptionRelay(upstreams));
  const app = mcpApp(server, {
    path: options.path ?? "/mcp",
    auth: options.auth,
    // A 2025 session that ends (closed, idle) lets go of the upstream subscriptions it held.
    sessions: {
      onEnd: (sessionId) => {
        for (const upstream of upstreams) void upstream.releaseAll(sessionHolder(sessionId));
      },
    },
    ...(options.eventStore && { eventStore: options.eventStore }),
    health: { checks },
  });
  return {
    app,
    server,
    status: () => upstreams.map((upstream) => upstream.status()),
    reap: () => upstreams.reduce((sum, upstream) => sum + upstream.reap(), 0),
    close,
  };
}

export type { UpstreamOptions };
