import type { Context } from "hono";
import { PortcullisError, UnavailableError } from "../util/errors.ts";
import { errorId, type Logger } from "../util/log.ts";

/** RFC 6749 §5.2 and extension error codes this server answers with. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "unsupported_token_type"
  | "server_error"
  | "temporarily_unavailable"
  | "invalid_dpop_proof"
  | "use_dpop_nonce";

const STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  server_error: 500,
  temporarily_unavailable: 503,
};

/**
 * An OAuth error response: `error`, `error_description`, and the HTTP status that goes with
 * it. Thrown by endpoint code and turned into a response at the edge, never with internals.
 */
export class OAuthError extends PortcullisError {
  /** The OAuth `error` (RFC 6749 §5.2). */
  declare readonly code: OAuthErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    code: OAuthErrorCode,
    description: string,
    options: { status?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, description, options);
    this.name = "OAuthError";
    this.status = options.status ?? STATUS[code] ?? 400;
    this.headers = options.headers ?? {};
  }

  toResponse(): Response {
    return new Response(JSON.stringify({ error: this.code, error_description: this.message }), {
      status: this.status,
      headers: {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        Pragma: "no-cache",
        ...this.headers,
      },
    });
  }
}

/**
 * A used refresh token presented again outside the retry grace: its grant is revoked. An
 * invalid_grant like any other on the wire; its own class so telemetry can count it.
 */
export class RefreshTokenReuseError extends OAuthError {
  constructor() {
    super("invalid_grant", "The refresh token was already used; the grant is revoked");
    this.name = "RefreshTokenReuseError";
  }
}

/** Any thrown value as an OAuth error; unexpected ones become a bare server_error. */
export function asOAuthError(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error instanceof UnavailableError) {
    return new OAuthError("temporarily_unavailable", "Storage is unavailable, try again", {
      headers: { "Retry-After": "5" },
      cause: error,
    });
  }
  return new OAuthError("server_error", "The server could not complete the request", {
    cause: error,
  });
}

/**
 * The 500 `server_error` reply: a generic description, and the correlation id the log line
 * carries (in the description for people, and as `error_id` for programs).
 */
export function serverErrorResponse(id: string): Response {
  const body = {
    error: "server_error",
    error_description: `The server could not complete the request (error id ${id})`,
    error_id: id,
  };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      Pragma: "no-cache",
    },
  });
}

/**
 * The reply to anything an endpoint threw. A 5xx is logged with its cause under a correlation
 * id; the client sees a bare `server_error` and that id, never the cause.
 */
export function errorReply(error: unknown, c: Context, logger: Logger): Response {
  const answer = asOAuthError(error);
  if (answer.status < 500) return answer.toResponse();
  // The request's correlation id when it has one, so the reply, the log and the audit agree.
  const id = c.get("requestId") ?? errorId();
  const fields = { method: c.req.method, path: c.req.path, status: answer.status, error_id: id };
  if (answer.status === 503) logger.warn("service unavailable", { ...fields, error });
  else logger.error("server error", { ...fields, error });
  return answer.code === "server_error" ? serverErrorResponse(id) : answer.toResponse();
}

/**
 * The upstream provider refused to refresh a user's tokens (its invalid_grant): the user
 * must sign in there again. Raised by an `UpstreamTokenSource`.
 */
export class UpstreamRefusedError extends PortcullisError {
  declare readonly code: "ERR_UPSTREAM_REFUSED";

  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_UPSTREAM_REFUSED", message, options);
    this.name = "UpstreamRefusedError";
  }
}
