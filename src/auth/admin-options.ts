/** What an operator's credential check answers: allowed, unknown (401), or known but refused (403). */
export type OperatorVerdict = boolean | "forbidden";

/** The operator API: off unless one of `token` or `verify` is given. */
export interface OperatorApiOptions {
  /** Where the API is mounted, e.g. "/admin" (the default). */
  path?: string;
  /** A secret of at least 32 characters that callers send as `Authorization: Bearer …`. */
  token?: string;
  /**
   * Instead of `token`: decides on the bearer credential of each request (a JWT of your own
   * identity provider, say). `"forbidden"` answers 403: the caller is known but not allowed.
   */
  verify?: (credential: string, request: Request) => OperatorVerdict | Promise<OperatorVerdict>;
}

export const DEFAULT_OPERATOR_PATH = "/admin";

/** Checks the operator API's options at construction; plain JavaScript callers included. */
export function checkOperatorOptions(options: OperatorApiOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("operatorApi must be an object: { token } or { verify }");
  }
  const { token, verify, path } = options;
  if ((token === undefined) === (verify === undefined)) {
    throw new TypeError("operatorApi needs exactly one of token (a secret) or verify (a function)");
  }
  if (token !== undefined && (typeof token !== "string" || token.length < 32)) {
    throw new TypeError("operatorApi.token must be a secret of at least 32 characters");
  }
  if (verify !== undefined && typeof verify !== "function") {
    throw new TypeError("operatorApi.verify must be a function");
  }
  if (path !== undefined && !/^\/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$/.test(path)) {
    throw new TypeError(`operatorApi.path must be a path such as "/admin", not ${path}`);
  }
}
