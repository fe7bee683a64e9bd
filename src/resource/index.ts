export { type BearerAuthOptions, bearerAuth, type PerRequest, requestResource } from "./bearer.ts";
export { bearerChallenge, challengeResponse, resourceMetadataUrl } from "./challenge.ts";
export type { IntrospectionClientOptions } from "./introspection.ts";
export { InvalidTokenError, IssuerUnavailableError } from "./issuer.ts";
export { type ProtectedResourceOptions, protectedResourceMetadata } from "./metadata.ts";
export {
  authInfoFromClaims,
  type CallerKindRule,
  defaultCallerKind,
  type IntrospectionVerifierOptions,
  introspectionVerifier,
  type JwksVerifierOptions,
  jwksVerifier,
  type TokenVerifier,
} from "./verifiers.ts";
