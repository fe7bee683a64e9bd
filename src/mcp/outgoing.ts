import { ErrorCode, type JsonRpcResponse, McpError, type RequestId } from "./jsonrpc.ts";
import type { JsonObject } from "./types.ts";

interface Pending {
  resolve(result: JsonObject): void;
  reject(error: unknown): void;
  /** The session that may answer; undefined for stateless requests. */
  sessionId: string | undefined;
  /** The caller that may answer (`principalOf` its token); "" on an open endpoint. */
  principal: string;
}

/**
 * Server-to-client requests waiting for the client's answer. Ids are random, so a client
 * cannot answer a request that was sent to another; and only the caller the request went to
 * (its session, and its token's issuer, subject and client) may answer, should an id leak.
 */
export class OutgoingRequests {
  readonly #pending = new Map<RequestId, Pending>();
  readonly #timeoutMs: number;
  readonly #idPrefix: string;

  /**
   * `idPrefix` starts every id: with several instances it names the one that waits, so an
   * answer posted to another instance can be routed back (SharedSessions.routeResponse).
   */
  constructor(timeoutMs: number, idPrefix = "") {
    this.#timeoutMs = timeoutMs;
    this.#idPrefix = idPrefix;
  }

  get size(): number {
    return this.#pending.size;
  }

  /**
   * Registers a request and returns its id and the promise of its result. The request is
   * given up on abort or after the timeout.
   */
  open(
    sessionId: string | undefined,
    signal: AbortSignal | undefined,
    principal = "",
  ): { id: string; result: Promise<JsonObject> } {
    const id = this.#idPrefix + crypto.randomUUID();
    const result = new Promise<JsonObject>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          settle(() =>
            reject(new McpError(ErrorCode.RequestTimeout, "The client did not answer in time")),
          ),
        this.#timeoutMs,
      );
      const onAbort = () => settle(() => reject(signal?.reason ?? new Error("Request aborted")));
      const settle = (finish: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
        finish();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        sessionId,
        principal,
        resolve: (value) => settle(() => resolve(value)),
        reject: (error) => settle(() => reject(error)),
      });
    });
    return { id, result };
  }

  /**
   * Routes a client's response; false when no request of this session and caller waits for
   * it. `principal` is left out only for an answer another instance took on the session's
   * behalf, which checked the caller against the session.
   */
  settle(response: JsonRpcResponse, sessionId: string | undefined, principal?: string): boolean {
    if (response.id === null) return false;
    const pending = this.#pending.get(response.id);
    if (!pending || pending.sessionId !== sessionId) return false;
    if (principal !== undefined && pending.principal !== principal) return false;
    if ("result" in response) pending.resolve(response.result);
    else
      pending.reject(
        new McpError(response.error.code, response.error.message, response.error.data),
      );
    return true;
  }

  /** Fails every request of a session that ended. */
  rejectSession(sessionId: string): void {
    for (const pending of this.#pending.values()) {
      if (pending.sessionId === sessionId) {
        pending.reject(new McpError(ErrorCode.ConnectionClosed, "Session ended"));
      }
    }
  }
}
