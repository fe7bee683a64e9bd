/**
 * The root of every error Portcullis throws on purpose. `code` is stable across releases:
 * match on it, or on the class with `instanceof`, never on `name` or `message`. Subclasses
 * narrow `code` (a JSON-RPC number for McpError, an RFC 6749 string for OAuthError, an
 * `ERR_…` string elsewhere); each code belongs to one class.
 */
export class PortcullisError extends Error {
  readonly code: string | number;

  constructor(code: string | number, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PortcullisError";
    this.code = code;
  }
}

/**
 * Shared state (a Store, a Bus, an issuer) cannot be reached right now. Nothing was done;
 * the caller answers 503 and the client may try again shortly.
 */
export class UnavailableError extends PortcullisError {
  declare readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "UnavailableError";
  }
}
