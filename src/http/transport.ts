import type { Context as HonoContext } from "hono";
import { ErrorCode } from "../mcp/jsonrpc.ts";
import { declaredVersion } from "../mcp/modern.ts";
import type { McpServer } from "../mcp/server.ts";
import { isModernVersion } from "../mcp/versions.ts";
import { batchLimits } from "./batch.ts";
import { httpError } from "./errors.ts";
import { type InboundLimits, type InboundPost, readPost } from "./inbound.ts";
import { checkOrigin } from "./origin.ts";
import { SessionEraHandler } from "./session-era.ts";
import type { SessionTable } from "./sessions.ts";
import { StatelessEraHandler } from "./stateless-era.ts";
import type { StreamableHttpOptions } from "./transport-options.ts";
import { isUnavailable, unavailableResponse } from "./unavailable.ts";

export type { StreamableHttpOptions } from "./transport-options.ts";

/**
 * Whether a POST speaks 2026-07-28: its MCP-Protocol-Version header names it, or a message's
 * `_meta` names a version (the 2025 revisions never put one there).
 */
function isStateless({ version, messages }: InboundPost): boolean {
  if (version !== null && isModernVersion(version)) return true;
  return messages.some(
    (message) => "method" in message && declaredVersion(message.params) !== undefined,
  );
}

/**
 * The Streamable HTTP endpoint of an McpServer, for both protocol eras: POST, GET and DELETE
 * on one path. A thin router: the origin check and the inbound step (body, limits, message
 * shapes) run once, then the request goes to the era it speaks — the session era (the 2025
 * revisions: initialize, sessions, batches, GET streams) or the stateless era (2026-07-28:
 * `_meta` on every request) — and both reply through the same step (reply.ts).
 */
export class StreamableHttpTransport {
  readonly server: McpServer;
  /** The session era's live sessions, when sessions are kept. */
  readonly sessions: SessionTable | undefined;
  readonly #origins: StreamableHttpOptions;
  readonly #inbound: InboundLimits;
  readonly #session: SessionEraHandler;
  readonly #stateless: StatelessEraHandler;

  constructor(server: McpServer, options: StreamableHttpOptions = {}) {
    this.server = server;
    const batch = batchLimits(options);
    this.#origins = options;
    this.#inbound = {
      maxBodyBytes: options.maxBodyBytes ?? 4 * 1024 * 1024,
      batch,
      lenientAccept: options.lenientAccept,
    };
    this.#session = new SessionEraHandler(server, options, batch);
    this.sessions = this.#session.sessions;
    this.#stateless = new StatelessEraHandler(server, {
      keepAliveMs: options.keepAliveMs ?? 15_000,
      jsonResponse: options.jsonResponse ?? false,
      guard: options.guard,
      listen: this.#session.events,
    });
  }

  /** Resolves once this instance hears the other instances (always at once without a shared Store). */
  ready(): Promise<void> {
    return this.#session.ready();
  }

  /**
   * Ends every subscription and session. With a shared Store, only this instance's part of a
   * session ends (its streams and requests): the sessions live on for the others.
   */
  close(): void {
    this.#stateless.close();
    this.#session.close();
  }

  async handle(c: HonoContext): Promise<Response> {
    if (!checkOrigin(c.req.raw, this.#origins)) {
      return httpError(403, ErrorCode.ConnectionClosed, "Forbidden: origin not allowed");
    }
    try {
      switch (c.req.method) {
        case "POST":
          return await this.#post(c);
        case "GET":
          return this.sessions ? await this.#session.get(c) : this.#methodNotAllowed();
        case "DELETE":
          return this.sessions ? await this.#session.delete(c) : this.#methodNotAllowed();
        default:
          return this.#methodNotAllowed();
      }
    } catch (error) {
      // Shared state is down: a clear "try again", never a guess.
      if (isUnavailable(error)) return unavailableResponse();
      throw error;
    }
  }

  async #post(c: HonoContext): Promise<Response> {
    const inbound = await readPost(c.req.raw, this.#inbound);
    if (inbound instanceof Response) return inbound;
    return isStateless(inbound) ? this.#stateless.post(c, inbound) : this.#session.post(c, inbound);
  }

  #methodNotAllowed(): Response {
    const allow = this.sessions ? "GET, POST, DELETE" : "POST";
    return httpError(405, ErrorCode.ConnectionClosed, "Method not allowed", { Allow: allow });
  }
}
