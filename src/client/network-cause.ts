/**
 * Why a fetch failed, in words. fetch itself only says "fetch failed"; the reason (refused,
 * no such host, an untrusted certificate) sits further down its `cause` chain, as an error
 * with a system or TLS `code`. Reads plain properties only, so it runs on every runtime.
 */

/** Plain words for the codes a person can act on. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused (nothing listens there)",
  ECONNRESET: "the connection was reset",
  ENOTFOUND: "no such host (DNS)",
  EAI_AGAIN: "the host name could not be resolved just now (DNS)",
  ETIMEDOUT: "the connection timed out",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
  UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
  UND_ERR_SOCKET: "the connection closed unexpectedly",
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's TLS certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's TLS certificate chain is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate cannot be verified",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's TLS certificate is from an unknown issuer",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another host name",
};

interface Found {
  code?: string;
  message?: string;
}

function fields(value: unknown): Found & { cause?: unknown; errors?: unknown } {
  if (typeof value !== "object" || value === null) return {};
  const record = value as Record<string, unknown>;
  return {
    ...(typeof record.code === "string" && { code: record.code }),
    ...(typeof record.message === "string" && { message: record.message }),
    cause: record.cause,
    errors: record.errors,
  };
}

/** The deepest error in the chain that carries a code (AggregateError: its first member). */
function deepestCoded(error: unknown): Found | undefined {
  let found: Found | undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    const { code, message, cause, errors } = fields(current);
    if (code !== undefined) found = { code, ...(message !== undefined && { message }) };
    current = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return found;
}

/**
 * The reason a fetch failed, e.g. `connection refused (nothing listens there) [ECONNREFUSED]`,
 * or the innermost message when no code is known; undefined when the chain says nothing.
 */
export function networkCause(error: unknown): string | undefined {
  const found = deepestCoded(error);
  if (found?.code !== undefined) {
    const reason = REASONS[found.code] ?? found.message ?? found.code;
    return `${reason} [${found.code}]`;
  }
  let message: string | undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    const next = fields(current);
    if (next.message) message = next.message;
    current = next.cause;
  }
  return message;
}
