import { PortcullisError, UnavailableError } from "../util/errors.ts";

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
  | "temporarily_unavailable";

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
