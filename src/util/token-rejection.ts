/** Short reasons for jose's error codes, as an operator reads them. */
const REASONS: Record<string, string> = {
  ERR_JWT_EXPIRED: "expired",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "bad signature",
  ERR_JWKS_NO_MATCHING_KEY: "signed with an unknown key (kid)",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "its key id (kid) matches several keys",
  ERR_JOSE_ALG_NOT_ALLOWED: "signed with an algorithm not accepted",
  ERR_JOSE_NOT_SUPPORTED: "signed with an algorithm not supported",
  ERR_JWS_INVALID: "not a well-formed JWS",
  ERR_JWT_INVALID: "not a well-formed JWT",
};

/** Claims whose check failing has a plain name. */
const CLAIMS: Record<string, string> = {
  aud: "wrong audience (aud): issued for another resource",
  iss: "wrong issuer (iss)",
  nbf: "not valid yet (nbf)",
  iat: "issued in the future (iat)",
  typ: "not an access token (typ is not at+jwt)",
};

/**
 * Why a JWT access token was refused, from what jose threw: for the operator's log, never for
 * the reply (which says only `invalid_token`).
 */
export function tokenRejection(error: unknown): string {
  const { code, claim, message } = (error ?? {}) as {
    code?: unknown;
    claim?: unknown;
    message?: unknown;
  };
  if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && typeof claim === "string") {
    return CLAIMS[claim] ?? `claim ${claim} failed its check`;
  }
  if (typeof code === "string" && REASONS[code]) return REASONS[code];
  return typeof message === "string" && message ? message : "not a valid token";
}
