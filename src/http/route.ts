import type { Context } from "hono";
// The default router: one compiled pattern, however many routes the authorization server adds.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { warnNoSecret } from "../mcp/failures.ts";
import { ErrorCode } from "../mcp/jsonrpc.ts";
import type { McpServer } from "../mcp/server.ts";
import { type EndpointAuth, protectEndpoint } from "../resource/protect.ts";
import { StoreUnavailableError } from "../storage/store.ts";
import { errorId, type Logger } from "../util/log.ts";
import { mcpCors } from "./cors.ts";
import {
  busCheck,
  type HealthCheck,
  type HealthOptions,
  healthRoutes,
  storeCheck,
} from "./health.ts";
import { requestLogger } from "./request-log.ts";
import { type StreamableHttpOptions, StreamableHttpTransport } from "./transport.ts";
import { unavailableResponse } from "./unavailable.ts";

export interface McpRouteOptions extends StreamableHttpOptions {
  /** Where requests (debug) and server errors (error) are reported. Default: the McpServer's. */
  logger?: Logger;
}

export interface McpAppOptions extends McpRouteOptions {
  /** Where the endpoint is mounted. Default "/mcp". */
  path?: string;
  /**
   * Protect the endpoint: the built-in `authorizationServer(...)` (mounted on this app), or
   * `{ issuer }` of a third-party authorization server whose JWTs are checked by its JWKS.
   */
  auth?: EndpointAuth;
  /**
   * Liveness at `/healthz` and readiness at `/readyz` (see `healthRoutes`), outside the
   * endpoint's authorization. Default on, checking the Store and Bus of `sessions` and of the
   * built-in authorization server; options add checks or change the timeout; false: none.
   */
  health?: HealthOptions | false;
}

/**
 * The 500 reply for an unexpected error, logged under a correlation id that the JSON-RPC
 * error carries in `data.errorId`.
 */
function internalError(logger: Logger, error: unknown, c: Context): Response {
  const id = errorId();
  logger.error("server error", { method: c.req.method, path: c.req.path, error_id: id, error });
  const body = {
    jsonrpc: "2.0",
    id: null,
    error: {
      code: ErrorCode.InternalError,
      message: "Internal error",
      data: { errorId: id },
    },
  };
  return Response.json(body, { status: 500 });
}

/** The transport that answers the endpoint, after the start-up checks on its options. */
function endpoint(server: McpServer, options: McpRouteOptions): StreamableHttpTransport {
  const sessions = options.sessions;
  if (typeof sessions === "object" && sessions.store && !server.hasSecret) {
    warnNoSecret(options.logger ?? server.logger, "sessions");
  }
  const { logger: _logger, ...transportOptions } = options;
  return new StreamableHttpTransport(server, transportOptions);
}

function onError(logger: Logger, error: Error, c: Context): Response {
  // The bearer check reads the Store (revoked grants): storage down is a 503, not a 500.
  if (error instanceof StoreUnavailableError) {
    logger.warn("storage unavailable", { method: c.req.method, path: c.req.path, error });
    return unavailableResponse();
  }
  if (error instanceof HTTPException) return error.getResponse();
  return internalError(logger, error, c);
}

/**
 * The MCP endpoint as a Hono sub-app, for `app.route("/mcp", mcpRoute(server))` in an
 * existing application. With `allowedOrigins`, browsers on those origins get CORS. It does
 * not protect the endpoint: for that, mount `mcpApp(server, { auth })`.
 */
export function mcpRoute(server: McpServer, options: McpRouteOptions = {}): Hono {
  if ((options as { auth?: unknown }).auth !== undefined) {
    throw new TypeError(
      'mcpRoute() does not protect the endpoint, so it refuses `auth` rather than serve it open: use mcpApp(server, { auth, path }) and mount that app with app.route("/", ...)',
    );
  }
  const logger = options.logger ?? server.logger;
  const transport = endpoint(server, options);
  const route = new Hono();
  route.use(requestLogger(logger, { rpc: true }));
  const origins = options.allowedOrigins;
  if (origins?.length) route.use(mcpCors(origins));
  route.all("/", (c) => transport.handle(c));
  route.onError((error, c) => onError(logger, error, c));
  return route;
}

/**
 * What mcpApp's readiness probe checks: the Store and Bus of `sessions`, and those of the
 * built-in authorization server where they are others ("auth-store", "auth-bus").
 */
function healthOf(options: McpAppOptions, logger: Logger): HealthOptions {
  const given = options.health || {};
  const sessions = typeof options.sessions === "object" ? options.sessions : {};
  const auth = options.auth && "app" in options.auth ? options.auth : undefined;
  const store = given.store ?? sessions.store ?? auth?.store;
  const bus = given.bus ?? sessions.bus ?? auth?.options?.bus;
  const checks: Record<string, HealthCheck> = {};
  const authStore = auth?.store;
  const authBus = auth?.options?.bus;
  if (authStore && authStore !== store) checks["auth-store"] = storeCheck(authStore);
  if (authBus && authBus !== bus) checks["auth-bus"] = busCheck(authBus);
  return {
    logger,
    ...given,
    ...(store ? { store } : {}),
    ...(bus ? { bus } : {}),
    checks: { ...checks, ...given.checks },
  };
}

/** A whole Hono app serving one MCP endpoint; export it as a Worker or serve it on Node. */
export function mcpApp(server: McpServer, options: McpAppOptions = {}): Hono {
  const app = new Hono();
  const path = options.path ?? "/mcp";
  const { auth, path: _path, health: _health, ...routeOptions } = options;
  const logger = options.logger ?? server.logger;
  // First, so that nothing mounted later (the authorization server's middleware, which reads
  // the Store) stands between a probe and its answer.
  if (options.health !== false) app.route("/", healthRoutes(healthOf(options, logger)));
  // Before the bearer check, so refused requests are logged too.
  app.use(path, requestLogger(logger, { rpc: true }));
  // Before the bearer check: a cross-origin page must be able to read the 401 and its challenge.
  const origins = routeOptions.allowedOrigins;
  if (origins?.length) app.use(path, mcpCors(origins));
  const guard = auth ? protectEndpoint(app, server, path, auth, logger) : undefined;
  // The endpoint is a route of this app, not a mounted sub-app: one router lookup per request.
  const transport = endpoint(server, guard ? { ...routeOptions, guard } : routeOptions);
  app.all(path, (c) => transport.handle(c));
  app.onError((error, c) => onError(logger, error, c));
  return app;
}
