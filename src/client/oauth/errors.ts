import { PortcullisError } from "../../util/errors.ts";

/** Why the OAuth authorizer could not get, or would not use, credentials for a server. */
export type AuthorizationErrorCode =
  /** The authorizer cannot tell which server a challenge came from (no URL on the response). */
  | "ERR_SERVER_URL_UNKNOWN"
  /** A challenge came from a server other than the one this authorizer is bound to. */
  | "ERR_SERVER_MISMATCH"
  /** No protected resource or authorization server metadata where the spec says to look. */
  | "ERR_METADATA_NOT_FOUND"
  /** Metadata that is not JSON, not an object, or lacks or mistypes a required member. */
  | "ERR_BAD_METADATA"
  /** The protected resource metadata names a resource other than the server being called. */
  | "ERR_RESOURCE_MISMATCH"
  /** The authorization server metadata names an issuer other than the one it was looked up for. */
  | "ERR_ISSUER_MISMATCH"
  /** The authorization server does not advertise PKCE with S256. */
  | "ERR_PKCE_UNSUPPORTED"
  /** A URL from a server's metadata that may not be fetched (scheme, private address). */
  | "ERR_URL_REFUSED"
  /** A metadata or token endpoint could not be reached. */
  | "ERR_FETCH_FAILED"
  /** A metadata or token endpoint took longer than the time limit. */
  | "ERR_FETCH_TIMEOUT"
  /** A reply larger than the size limit. */
  | "ERR_RESPONSE_TOO_LARGE"
  /** No way to obtain a client id: no pre-registered client, metadata document or registration. */
  | "ERR_REGISTRATION_UNAVAILABLE"
  /** The registration endpoint refused or answered nonsense. */
  | "ERR_REGISTRATION_FAILED"
  /** A person has to sign in, but no redirect handler was given. */
  | "ERR_NO_REDIRECT"
  /** Nobody came back to the redirect URI in time. */
  | "ERR_REDIRECT_TIMEOUT"
  /** The redirect came back to a URI other than the one sent. */
  | "ERR_BAD_CALLBACK"
  /** The `state` in the authorization response is not the one sent. */
  | "ERR_STATE_MISMATCH"
  /** RFC 9207: `iss` in the authorization response is missing (when promised) or not the issuer. */
  | "ERR_ISS_MISMATCH"
  /** The authorization server redirected back with an error (e.g. access_denied). */
  | "ERR_AUTHORIZATION_DENIED"
  /** The token endpoint refused the request or answered nonsense. */
  | "ERR_TOKEN_REQUEST_FAILED"
  /** The server keeps refusing tokens the authorization server has just issued. */
  | "ERR_TOKEN_REJECTED"
  /** Step-up authorization for the same scopes was tried too many times. */
  | "ERR_STEP_UP_LIMIT"
  /** The `dpop` option's key pair cannot sign DPoP proofs. */
  | "ERR_DPOP_KEY"
  /** A token exchange on behalf of a caller whose request carried no access token. */
  | "ERR_NO_SUBJECT_TOKEN"

  /** Another process held the shared token store's refresh lock for too long. */
  | "ERR_LOCK_TIMEOUT";

/** A failure of OAuth discovery, registration, authorization or token handling. */
export class AuthorizationError extends PortcullisError {
  declare readonly code: AuthorizationErrorCode;
  /** The OAuth error code the authorization server sent (RFC 6749 §5.2), if any. */
  readonly oauthError: string | undefined;

  constructor(
    code: AuthorizationErrorCode,
    message: string,
    options: { oauthError?: string | undefined; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = "AuthorizationError";
    this.oauthError = options.oauthError;
  }
}

/** The AuthorizationError somewhere in a chain of causes (libraries wrap what our fetch throws). */
export function findAuthorizationError(error: unknown): AuthorizationError | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof AuthorizationError) return current;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}
