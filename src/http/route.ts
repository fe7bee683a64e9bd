import { Hono } from "hono";
import type { McpServer } from "../mcp/server.ts";
import { type StreamableHttpOptions, StreamableHttpTransport } from "./transport.ts";

export type McpRouteOptions = StreamableHttpOptions;

export interface McpAppOptions extends McpRouteOptions {
  /** Where the endpoint is mounted. Default "/mcp". */
  path?: string;
}

/**
 * The MCP endpoint as a Hono sub-app, for `app.route("/mcp", mcpRoute(server))` in an
 * existing application.
 */
export function mcpRoute(server: McpServer, options: McpRouteOptions = {}): Hono {
  const transport = new StreamableHttpTransport(server, options);
  const route = new Hono();
  route.all("/", (c) => transport.handle(c));
  return route;
}

/** A whole Hono app serving one MCP endpoint; export it as a Worker or serve it on Node. */
export function mcpApp(server: McpServer, options: McpAppOptions = {}): Hono {
  const app = new Hono();
  app.route(options.path ?? "/mcp", mcpRoute(server, options));
  return app;
}
