import { type ServerType, serve as serveNode } from "@hono/node-server";
import { isLoopbackHost } from "../http/origin.ts";

export interface ServeOptions {
  /** Default 3000; 0 picks a free port. */
  port?: number;
  /** Default "127.0.0.1": listening beyond this machine is a choice to make on purpose. */
  hostname?: string;
  /**
   * Host header values accepted. Defaults to loopback names when bound to loopback, which
   * stops DNS rebinding; other bindings accept any Host unless this is set.
   */
  allowedHosts?: readonly string[];
}

export interface RunningServer {
  /** The base URL the server listens on, e.g. http://127.0.0.1:3000. */
  url: string;
  port: number;
  server: ServerType;
  /** Stops accepting connections and resolves once the server is closed. */
  close(): Promise<void>;
}

interface FetchApp {
  fetch(request: Request, ...rest: never[]): Response | Promise<Response>;
}

function hostAllowed(host: string | null, allowed: readonly string[] | undefined): boolean {
  if (host === null) return false;
  const name = host.startsWith("[")
    ? host.slice(0, host.indexOf("]") + 1)
    : host.replace(/:\d+$/, "");
  return allowed ? allowed.includes(host) || allowed.includes(name) : isLoopbackHost(name);
}

/** Serves a Hono app (or anything with `fetch`) on Node. */
export function serve(app: FetchApp, options: ServeOptions = {}): Promise<RunningServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const checkHost = options.allowedHosts !== undefined || isLoopbackHost(hostname);
  const fetch = checkHost
    ? (request: Request) =>
        hostAllowed(request.headers.get("host"), options.allowedHosts)
          ? app.fetch(request)
          : Response.json(
              {
                jsonrpc: "2.0",
                id: null,
                error: { code: -32000, message: "Forbidden: Host not allowed" },
              },
              { status: 403 },
            )
    : (request: Request) => app.fetch(request);
  return new Promise((resolve) => {
    const server = serveNode({ fetch, port: options.port ?? 3000, hostname }, (info) => {
      const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        server,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
  });
}
