/** Quotes a value for an auth-param (RFC 9110 §11.2). */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

export interface ChallengeParams {
  resourceMetadata: string;
  scope?: readonly string[];
  /** RFC 6750 §3.1, and RFC 9470's for a token without the user authentication asked for. */
  error?:
    | "invalid_token"
    | "insufficient_scope"
    | "invalid_request"
    | "insufficient_user_authentication";
  description?: string;
}

/** A DPoP challenge (RFC 9449 §7.1): the proof algorithms accepted, and any error with it. */
export interface DpopChallengeParams {
  algs: readonly string[];
  error?: "invalid_token" | "invalid_dpop_proof" | "use_dpop_nonce";
  description?: string;
  /** Scopes to ask for (RFC 6750 §3, which the DPoP scheme shares). */
  scope?: readonly string[];
  resourceMetadata?: string;
}

/** A DPoP challenge for WWW-Authenticate. */
export function dpopChallenge(params: DpopChallengeParams): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error=${quote(params.error)}`);
  if (params.description) parts.push(`error_description=${quote(params.description)}`);
  if (params.scope?.length) parts.push(`scope=${quote(params.scope.join(" "))}`);
  parts.push(`algs=${quote(params.algs.join(" "))}`);
  if (params.resourceMetadata) parts.push(`resource_metadata=${quote(params.resourceMetadata)}`);
  return `DPoP ${parts.join(", ")}`;
}

/** A Bearer challenge for WWW-Authenticate, with RFC 9728 `resource_metadata`. */
export function bearerChallenge(params: ChallengeParams): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error=${quote(params.error)}`);
  if (params.description) parts.push(`error_description=${quote(params.description)}`);
  if (params.scope?.length) parts.push(`scope=${quote(params.scope.join(" "))}`);
  parts.push(`resource_metadata=${quote(params.resourceMetadata)}`);
  return `Bearer ${parts.join(", ")}`;
}

/**
 * A 401 or 403 reply with a Bearer challenge and a JSON body saying the same. With `dpop`, a
 * DPoP challenge follows the Bearer one (RFC 9449 §7.1: a server taking both offers both).
 */
export function challengeResponse(
  status: 401 | 403,
  params: ChallengeParams,
  dpop?: { algs: readonly string[] },
): Response {
  // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
  const body: Record<string, string> = { error: params.error ?? "unauthorized" };
  if (params.description) body.error_description = params.description;
  let challenge = bearerChallenge(params);
  if (dpop) {
    challenge += `, ${dpopChallenge({ algs: dpop.algs, resourceMetadata: params.resourceMetadata })}`;
  }
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "WWW-Authenticate": challenge },
  });
}

/**
 * A 401 for a DPoP-bound token or its proof (RFC 9449 §7.1): the DPoP challenge alone, with
 * `DPoP-Nonce` when the error is `use_dpop_nonce`.
 */
export function dpopChallengeResponse(params: DpopChallengeParams, nonce?: string): Response {
  const body: Record<string, string> = { error: params.error ?? "unauthorized" };
  if (params.description) body.error_description = params.description;
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "WWW-Authenticate": dpopChallenge(params),
  };
  if (nonce) headers["DPoP-Nonce"] = nonce;
  return new Response(JSON.stringify(body), { status: 401, headers });
}

/** Where RFC 9728 puts the metadata of a resource: the well-known prefix before its path. */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/+$/, "");
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}
