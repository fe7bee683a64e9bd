import type { Context, Handler } from "hono";
import { type PerRequest, resolve } from "./bearer.ts";

export interface ProtectedResourceOptions {
  /** The canonical URI of the resource. */
  resource: PerRequest<string>;
  /** Issuer identifiers of the authorization servers that issue tokens for it. */
  authorizationServers: PerRequest<readonly string[]>;
  scopes?: PerRequest<readonly string[]>;
  resourceName?: string;
  resourceDocumentation?: string;
  /** DPoP as this resource takes it: proof algorithms, and whether Bearer tokens are refused. */
  dpop?: { algorithms: readonly string[]; required?: boolean };
}

/** The RFC 9728 protected resource metadata document. */
export function protectedResourceMetadata(options: ProtectedResourceOptions): Handler {
  return (c: Context) => {
    const document: Record<string, unknown> = {
      resource: resolve(options.resource, c),
      authorization_servers: resolve(options.authorizationServers, c),
      bearer_methods_supported: ["header"],
    };
    const scopes = options.scopes === undefined ? [] : resolve(options.scopes, c);
    if (scopes.length) document.scopes_supported = scopes;
    if (options.resourceName) document.resource_name = options.resourceName;
    if (options.resourceDocumentation)
      document.resource_documentation = options.resourceDocumentation;
    if (options.dpop) {
      // RFC 9728 §2: the DPoP members a resource publishes.
      document.dpop_signing_alg_values_supported = options.dpop.algorithms;
      if (options.dpop.required) document.dpop_bound_access_tokens_required = true;
    }
    return c.json(document, 200, {
      "Cache-Control": "public, max-age=300",
      "Access-Control-Allow-Origin": "*",
    });
  };
}
