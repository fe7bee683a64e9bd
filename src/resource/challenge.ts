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

/** A Bearer challenge for WWW-Authenticate, with RFC 9728 `resource_metadata`. */
export function bearerChallenge(params: ChallengeParams): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error=${quote(params.error)}`);
  if (params.description) parts.push(`error_description=${quote(params.description)}`);
  if (params.scope?.length) parts.push(`scope=${quote(params.scope.join(" "))}`);
  parts.push(`resource_metadata=${quote(params.resourceMetadata)}`);
  return `Bearer ${parts.join(", ")}`;
}

/** A 401 or 403 reply with a Bearer challenge and a JSON body saying the same. */
export function challengeResponse(status: 401 | 403, params: ChallengeParams): Response {
  // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
  const body: Record<string, string> = { error: params.error ?? "unauthorized" };
  if (params.description) body.error_description = params.description;
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "WWW-Authenticate": bearerChallenge(params) },
  });
}

/** Where RFC 9728 puts the metadata of a resource: the well-known prefix before its path. */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/+$/, "");
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}
