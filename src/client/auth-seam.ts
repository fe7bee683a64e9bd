/**
 * What the HTTP transport asks of whatever authorizes its requests (OAuth, a static bearer
 * token, a test double). The transport knows nothing about tokens: it asks for headers before
 * each request, and hands over 401 and 403 replies to learn whether a retry may succeed.
 */
export interface Authorizer {
  /** Headers to add to the next request, e.g. `{ authorization: "Bearer …" }`. */
  /**
   * `url` is where the request goes, so an authorizer bound to one server can refuse to hand
   * its token to another; `url` and `method` (default POST) are what a DPoP proof signs.
   */
  headers(url?: URL, method?: string): Promise<Record<string, string>>;
  /** Sees every reply of the server (e.g. to keep a DPoP nonce it sends). Optional. */
  onResponse?(response: Response): void;
  /**
   * The server answered 401. Resolve true once new credentials are in place and the request
   * should be sent again; false to fail it.
   */
  onUnauthorized(response: Response): Promise<boolean>;
  /** The server answered 403 (e.g. insufficient_scope). Resolve true to retry after step-up. */
  onForbidden(response: Response): Promise<boolean>;
}
