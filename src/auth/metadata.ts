import { AUTH_METHODS } from "./clients.ts";

export interface MetadataInput {
  issuer: string;
  scopes: readonly string[];
  registration: boolean;
  metadataDocuments: boolean;
  /** DPoP proof algorithms accepted (RFC 9449 §5.1); undefined when DPoP is off. */
  dpopAlgorithms?: readonly string[] | undefined;
  /** Further grant types this server accepts (token exchange, JWT bearer), when configured. */
  extraGrantTypes?: readonly string[];
  /** Authorization grant profiles (draft-ietf-oauth-identity-assertion-authz-grant §7.2). */
  grantProfiles?: readonly string[];
}

/** The RFC 8414 authorization server metadata document (also served as OIDC discovery). */
export function authorizationServerMetadata(input: MetadataInput): Record<string, unknown> {
  const { issuer } = input;
  const metadata: Record<string, unknown> = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: [
      "authorization_code",
      "refresh_token",
      "client_credentials",
      ...(input.extraGrantTypes ?? []),
    ],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ["ES256", "RS256", "EdDSA", "PS256"],
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter(
      (method) => method !== "none",
    ),
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: input.metadataDocuments,
    resource_indicators_supported: true,
  };
  if (input.registration) metadata.registration_endpoint = `${issuer}/register`;
  if (input.scopes.length) metadata.scopes_supported = input.scopes;
  if (input.grantProfiles?.length)
    metadata.authorization_grant_profiles_supported = input.grantProfiles;
  if (input.dpopAlgorithms) metadata.dpop_signing_alg_values_supported = input.dpopAlgorithms;
  return metadata;
}
