import { DurableObject } from "cloudflare:workers";
import { readBody } from "../util/body.ts";

/** Anything that answers requests: a Hono app from `mcpApp()`, for instance. */
export interface FetchHandler {
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
}

/**
 * A Durable Object that serves stateful (2025-era) MCP sessions: one object per session, so
 * every request of a session — the POSTs, the GET stream, DELETE — reaches the same memory,
 * wherever the client's requests land. Extend it, build your app with `sessions: true` in
 * `app()`, export the class from the Worker's main module and bind it; `routeToSession()`
 * sends the session traffic to it.
 *
 * Sessions live in the object's memory: when the runtime evicts an idle object, its session
 * ends and the client gets 404, on which MCP clients start a new session.
 */
export abstract class McpSessionObject<Env = unknown> extends DurableObject<Env> {
  #app: FetchHandler | undefined;

  /** Builds the app that serves this session; called once per object. */
  protected abstract app(env: Env): FetchHandler;

  override fetch(request: Request): Response | Promise<Response> {
    this.#app ??= this.app(this.env);
    return this.#app.fetch(request, this.env);
  }
}

/** What `routeToSession()` uses of a Durable Object namespace binding of an `McpSessionObject`. */
export interface SessionNamespace {
  newUniqueId(): DurableObjectId;
  idFromString(id: string): DurableObjectId;
  get(id: DurableObjectId): { fetch(request: Request): Promise<Response> };
}

export interface RouteToSessionOptions {
  /** The MCP endpoint's path. Default "/mcp". */
  path?: string;
  /**
   * The most of a POST body read to see whether it starts a session: the endpoint's own
   * `maxBodyBytes`. A larger body starts nothing here and the app answers it with 413.
   * Default 4 MiB, the endpoint's default.
   */
  maxBodyBytes?: number;
}

const SESSION_HEADER = "mcp-session-id";
/** Separates the object's id from the session id the app minted: `<object id>.<session id>`. */
const SEPARATOR = ".";

const notFound = () =>
  Response.json(
    { jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } },
    { status: 404 },
  );

/** Whether a POST body starts a session: `initialize`, alone or in a batch. */
async function startsSession(request: Request, maxBytes: number): Promise<boolean> {
  let body: unknown;
  try {
    // The clone (a Workers Request) is read as a plain one.
    const text = await readBody(request.clone() as unknown as Request, maxBytes);
    if (text === undefined) return false;
    body = JSON.parse(text);
  } catch {
    return false;
  }
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (message) =>
      typeof message === "object" &&
      message !== null &&
      (message as { method?: unknown }).method === "initialize",
  );
}

function withSessionHeader(request: Request, sessionId: string | undefined): Request {
  const headers = new Headers(request.headers);
  if (sessionId === undefined) headers.delete(SESSION_HEADER);
  else headers.set(SESSION_HEADER, sessionId);
  return new Request(request, { headers });
}

/**
 * Sends 2025-era session traffic on the MCP endpoint to one `McpSessionObject` per session:
 * an `initialize` without a session goes to a new object, and the session id the client
 * receives is prefixed with that object's id, so its later requests find it again. Returns
 * undefined for everything else (metadata, OAuth endpoints, stateless requests), which the
 * Worker serves itself.
 */
export async function routeToSession(
  request: Request,
  namespace: SessionNamespace,
  options: RouteToSessionOptions = {},
): Promise<Response | undefined> {
  const path = (options.path ?? "/mcp").replace(/\/+$/, "") || "/";
  if (new URL(request.url).pathname.replace(/\/+$/, "") !== path) return undefined;
  const presented = request.headers.get(SESSION_HEADER);

  if (presented === null) {
    const maxBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    if (request.method !== "POST" || !(await startsSession(request, maxBytes))) return undefined;
    const id = namespace.newUniqueId();
    const response = await namespace.get(id).fetch(withSessionHeader(request, undefined));
    const minted = response.headers.get(SESSION_HEADER);
    if (minted === null) return response;
    const headers = new Headers(response.headers);
    headers.set(SESSION_HEADER, `${id.toString()}${SEPARATOR}${minted}`);
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  }

  const split = presented.indexOf(SEPARATOR);
  if (split <= 0) return notFound();
  let id: DurableObjectId;
  try {
    // Only ids this namespace minted parse; anything else is an unknown session.
    id = namespace.idFromString(presented.slice(0, split));
  } catch {
    return notFound();
  }
  const inner = presented.slice(split + 1);
  const response = await namespace.get(id).fetch(withSessionHeader(request, inner));
  if (response.headers.get(SESSION_HEADER) === null) return response;
  const headers = new Headers(response.headers);
  headers.set(SESSION_HEADER, presented);
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
