export { type BearerAuthOptions, bearerAuth, type PerRequest, requestResource } from "./bearer.ts";
export {
  bearerChallenge,
  challengeResponse,
  type DpopChallengeParams,
  dpopChallenge,
  resourceMetadataUrl,
} from "./challenge.ts";
export {
  DPOP_ALGORITHMS,
  type DpopOptions,
  DpopProofError,
  type DpopVerifier,
  dpopVerifier,
  type ProofRequest,
  type ProofResult,
} from "./dpop.ts";
export type { DpopNonceOptions } from "./dpop-nonce.ts";
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
