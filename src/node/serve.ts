import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Http2Bindings, HttpBindings } from "@hono/node-server";
import { LISTENING, type Listening } from "../util/exposure.ts";
import { errorId, type Logger, resolveLogger } from "../util/log.ts";
import { isLoopbackHost } from "../util/loopback.ts";

export interface ServeOptions {
  /** Default 3000; 0 picks a free port. */
  port?: number;
  /** Default "127.0.0.1": listening beyond this machine is a choice to make on purpose. */
  hostname?: string;
  /**
   * Host header values accepted ("name" or "name:port"); any other Host gets 403, which stops
   * DNS rebinding. Default on loopback: loopback names. Required on any other binding (list
   * the names clients use), where `["*"]` accepts any Host: only do that behind a proxy that
   * sets Host itself. Behind a reverse proxy that forwards the public Host, list that name.
   */
  allowedHosts?: readonly string[];
  /**
   * Behind a reverse proxy: take the scheme and host of the URL the app sees (and so the
   * issuer and resource URLs it publishes) from `X-Forwarded-Proto` and `X-Forwarded-Host`.
   * Only set this when a proxy you run sets or overwrites those headers: otherwise any client
   * can claim any origin. Default false.
   */
  trustProxy?: boolean;
  /**
   * How long `close()` waits for in-flight requests before it ends open SSE streams and
   * drops what is left. Default 10 s.
   */
  shutdownTimeoutMs?: number;
  /** Time allowed to receive a request's headers. Default 66 s (longer than keep-alive). */
  headersTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open. Default 65 s: longer than the 60 s
   * idle timeout of common load balancers, so they never reuse a socket Node just closed.
   */
  keepAliveTimeoutMs?: number;
  /**
   * Time allowed to receive a whole request. Default 0 (none): a request's body is bounded by
   * the endpoint's size limit, and a timer here would also cut long-lived SSE exchanges.
   */
  requestTimeoutMs?: number;
  /** Where the listening address (info) and errors the app let through (error) go. Default: stderr. */
  logger?: Logger;
}

export interface RunningServer {
  /** The base URL the server listens on, e.g. http://127.0.0.1:3000. */
  url: string;
  port: number;
  /** The Node HTTP server underneath. */
  server: Server;
  /**
   * Graceful shutdown: stops accepting connections, lets in-flight requests finish (up to
   * `shutdownTimeoutMs`), then ends open SSE streams and closes what remains. Resolves once
   * the server is closed; calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** What `c.env` holds in Hono under `serve()`: Node's own request and response. */
export interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

interface FetchApp {
  /** `env` carries Node's request and response (`c.env.incoming` in Hono), e.g. for the peer address. */
  fetch(request: Request, env: NodeBindings): Response | Promise<Response>;
}

/** Grace given to ended SSE streams to flush before their sockets are dropped. */
const STREAM_END_GRACE_MS = 500;

function hostAllowed(host: string | null, allowed: readonly string[] | undefined): boolean {
  if (allowed?.includes("*")) return true;
  if (host === null) return false;
  const name = host.startsWith("[")
    ? host.slice(0, host.indexOf("]") + 1)
    : host.replace(/:\d+$/, "");
  return allowed ? allowed.includes(host) || allowed.includes(name) : isLoopbackHost(name);
}

/** The first value of a comma-separated forwarded header, as proxies append to the list. */
function firstValue(value: string | null): string | undefined {
  const first = value?.split(",")[0]?.trim();
  return first ? first : undefined;
}

const FORWARDED_HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** RequestInit as Node's fetch takes it: a streamed body needs `duplex`. */
interface StreamingRequestInit extends RequestInit {
  duplex?: "half";
}

/**
 * The request as the client addressed the proxy: scheme and host from X-Forwarded-Proto and
 * X-Forwarded-Host. Malformed values are ignored rather than trusted.
 */
function forwardedRequest(request: Request): Request {
  const url = new URL(request.url);
  const proto = firstValue(request.headers.get("x-forwarded-proto"))?.toLowerCase();
  const host = firstValue(request.headers.get("x-forwarded-host"));
  let changed = false;
  if (proto === "http" || proto === "https") {
    changed ||= url.protocol !== `${proto}:`;
    url.protocol = `${proto}:`;
  }
  if (host && FORWARDED_HOST.test(host)) {
    // Assigning url.host keeps our own port when the forwarded host names none.
    const target = new URL(`${url.protocol}//${host}`);
    changed ||= url.hostname !== target.hostname || url.port !== target.port;
    url.hostname = target.hostname;
    url.port = target.port;
  }
  if (!changed) return request;
  const init: StreamingRequestInit = {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    redirect: request.redirect,
  };
  if (request.body) {
    init.body = request.body;
    init.duplex = "half";
  }
  return new Request(url, init);
}

const forbiddenHost = () =>
  Response.json(
    { jsonrpc: "2.0", id: null, error: { code: -32000, message: "Forbidden: Host not allowed" } },
    { status: 403 },
  );

/**
 * Serves a Hono app (or anything with `fetch`) on Node, through `@hono/node-server` (an
 * optional peer dependency: install it to serve). It is loaded here, on the first call, so
 * that the rest of `portcullis/node` (`fileTokenStore`, `loopbackRedirect`, stdio) works
 * without it.
 */
export async function serve(app: FetchApp, options: ServeOptions = {}): Promise<RunningServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  if (!isLoopbackHost(hostname) && options.allowedHosts === undefined) {
    throw new TypeError(
      `serve(): bound to ${hostname}, beyond loopback, it needs allowedHosts (the Host names clients use; ["*"] for any)`,
    );
  }
  const logger = resolveLogger(options.logger);
  const { serve: serveNode } = await loadNodeServer();
  // Told to the app, so what depends on who can reach it (devLogin) never trusts a header.
  const listening: Listening = { hostname, behindProxy: options.trustProxy ?? false };
  // Every request whose response has not closed yet, and those of them that are SSE streams:
  // a graceful shutdown waits for the others and ends the streams.
  const inFlight = new Set<ServerResponse>();
  const streams = new WeakSet<ServerResponse>();
  const fetch = async (request: Request, bindings: HttpBindings | Http2Bindings) => {
    // The server made below is HTTP/1 (no createServer option): these are Node's HTTP/1 pair.
    const env = bindings as NodeBindings;
    if (!hostAllowed(request.headers.get("host"), options.allowedHosts)) return forbiddenHost();
    let response: Response;
    try {
      response = await app.fetch(
        options.trustProxy ? forwardedRequest(request) : request,
        Object.assign(env, { [LISTENING]: listening }),
      );
    } catch (error) {
      // Hono apps answer their own errors; this is for a fetch handler that does not.
      const id = errorId();
      logger.error("server error", {
        method: request.method,
        url: request.url,
        error_id: id,
        error,
      });
      return new Response(`Internal Server Error (error id ${id})`, { status: 500 });
    }
    if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
      streams.add(env.outgoing);
    }
    return response;
  };
  let closing: Promise<void> | undefined;
  const track = (_request: IncomingMessage, response: ServerResponse) => {
    inFlight.add(response);
    response.once("close", () => inFlight.delete(response));
    // During shutdown, tell keep-alive clients not to send another request on this socket.
    if (closing) response.shouldKeepAlive = false;
  };

  return new Promise((resolve, reject) => {
    const server = serveNode(
      {
        fetch,
        port: options.port ?? 3000,
        hostname,
        serverOptions: {
          requestTimeout: options.requestTimeoutMs ?? 0,
          headersTimeout: options.headersTimeoutMs ?? 66_000,
          keepAliveTimeout: options.keepAliveTimeoutMs ?? 65_000,
        },
      },
      (info) => {
        const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
        logger.info("listening", { url: `http://${host}:${info.port}` });
        resolve({
          url: `http://${host}:${info.port}`,
          port: info.port,
          server,
          close: () => {
            closing ??= shutdown(server, inFlight, streams, options.shutdownTimeoutMs ?? 10_000);
            return closing;
          },
        });
      },
    ) as Server;
    server.on("request", track);
    server.once("error", reject);
  });
}

type NodeServer = typeof import("@hono/node-server");

/** `@hono/node-server`, or an error that says what to install. */
async function loadNodeServer(): Promise<NodeServer> {
  try {
    return await import("@hono/node-server");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw error;
    throw new Error(
      "serve() needs @hono/node-server, an optional peer dependency of portcullis: npm install @hono/node-server",
      { cause: error },
    );
  }
}

async function shutdown(
  server: Server,
  inFlight: Set<ServerResponse>,
  streams: WeakSet<ServerResponse>,
  timeoutMs: number,
): Promise<void> {
  const isStream = (response: ServerResponse) => streams.has(response);
  const closed = new Promise<void>((done) => server.close(() => done()));
  // Responses not yet started close their connection when done, instead of keeping it alive.
  for (const response of inFlight) if (!response.headersSent) response.shouldKeepAlive = false;
  // Ordinary requests get until the deadline; SSE streams never finish on their own, so they
  // are not waited for, but they keep running (and delivering) while the others drain.
  const deadline = Date.now() + timeoutMs;
  server.closeIdleConnections();
  while (Date.now() < deadline && [...inFlight].some((response) => !isStream(response))) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    server.closeIdleConnections();
  }
  // End the streams cleanly: the client sees the stream finish and reconnects elsewhere. A
  // late write from the app then fails on the ended response; that error is expected here.
  // Ordinary requests still running past the deadline are dropped below, not cut short with
  // a truncated body that would look complete.
  const ended: Promise<unknown>[] = [];
  for (const response of inFlight) {
    if (!isStream(response) || response.writableEnded) continue;
    ended.push(new Promise((done) => response.once("close", done)));
    response.on("error", () => {});
    response.end();
  }
  const grace = new Promise((resolve) => setTimeout(resolve, STREAM_END_GRACE_MS).unref());
  await Promise.race([Promise.all(ended), grace]);
  server.closeAllConnections();
  await closed;
}
