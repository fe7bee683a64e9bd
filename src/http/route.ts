import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { Hono } from "hono/tiny";
import type { McpServer } from "../mcp/server.ts";
import { type EndpointAuth, protectEndpoint } from "../resource/protect.ts";
import { StoreUnavailableError } from "../storage/store.ts";
import {
  type StreamableHttpOptions,
  StreamableHttpTransport,
  unavailableResponse,
} from "./transport.ts";

export type McpRouteOptions = StreamableHttpOptions;

export interface McpAppOptions extends McpRouteOptions {
  /** Where the endpoint is mounted. Default "/mcp". */
  path?: string;
  /**
   * Protect the endpoint: the built-in `authorizationServer(...)` (mounted on this app), or
   * `{ issuer }` of a third-party authorization server whose JWTs are checked by its JWKS.
   */
  auth?: EndpointAuth;
}

/**
 * The MCP endpoint as a Hono sub-app, for `app.route("/mcp", mcpRoute(server))` in an
 * existing application. With `allowedOrigins`, browsers on those origins get CORS.
 */
export function mcpRoute(server: McpServer, options: McpRouteOptions = {}): Hono {
  const transport = new StreamableHttpTransport(server, options);
  const route = new Hono();
  const origins = options.allowedOrigins;
  if (origins?.length) {
    route.use(
      cors({
        origin: origins.includes("*") ? "*" : [...origins],
        allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
        allowHeaders: [
          "Content-Type",
          "Accept",
          "Authorization",
          "Mcp-Session-Id",
          "MCP-Protocol-Version",
          "Last-Event-ID",
        ],
        exposeHeaders: ["Mcp-Session-Id", "MCP-Protocol-Version", "WWW-Authenticate"],
        maxAge: 86_400,
      }),
    );
  }
  route.all("/", (c) => transport.handle(c));
  return route;
}

/** A whole Hono app serving one MCP endpoint; export it as a Worker or serve it on Node. */
export function mcpApp(server: McpServer, options: McpAppOptions = {}): Hono {
  const app = new Hono();
  const path = options.path ?? "/mcp";
  const { auth, path: _path, ...routeOptions } = options;
  const guard = auth ? protectEndpoint(app, server, path, auth) : undefined;
  app.route(path, mcpRoute(server, guard ? { ...routeOptions, guard } : routeOptions));
  app.onError((error, c) => {
    // The bearer check reads the Store (revoked grants): storage down is a 503, not a 500.
    if (error instanceof StoreUnavailableError) return unavailableResponse();
    if (error instanceof HTTPException) return error.getResponse();
    console.error(error);
    return c.text("Internal Server Error", 500);
  });
  return app;
}
