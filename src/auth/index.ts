export type { Exposure } from "../util/exposure.ts";
export { FetchRefusedError, type ResolveHost, type SafeFetchOptions } from "../util/ssrf.ts";
export type { OperatorApiOptions, OperatorVerdict } from "./admin-options.ts";
export { jsonLinesAudit } from "./audit.ts";
export type {
  AssertionGrantedEvent,
  AuditEvent,
  AuditEventBase,
  AuditEventType,
  AuditSink,
  ClientCredentialsGrantedEvent,
  ClientRegisteredEvent,
  CodeIssuedEvent,
  ConsentDeniedEvent,
  ConsentGrantedEvent,
  RateLimitHitEvent,
  RefreshReuseDetectedEvent,
  RefreshRotatedEvent,
  SignInFailedEvent,
  SignInSucceededEvent,
  TokenExchangedEvent,
  TokenIssuedEvent,
  TokenRevokedEvent,
} from "./audit-events.ts";
export type {
  Client,
  ConfiguredClient,
  TokenEndpointAuthMethod,
} from "./clients.ts";
export type { AuthorizationServerOptions } from "./core.ts";
export {
  OAuthError,
  type OAuthErrorCode,
  RefreshTokenReuseError,
  UpstreamRefusedError,
} from "./errors.ts";
export type { GrantRecord } from "./grants.ts";
export type {
  IdentityAssertionOptions,
  TrustedIdentityProvider,
} from "./identity-assertion-options.ts";
export { generateSigningKey, type SigningAlgorithm } from "./keys.ts";
export type { TokenLifetimes } from "./lifetimes.ts";
export { type CustomLoginOptions, customLogin } from "./login/custom.ts";
export { type DevLoginOptions, devLogin } from "./login/dev.tsx";
export {
  type EntraOAuthOptions,
  entraOAuth,
  type GitHubOAuthOptions,
  type GoogleOAuthOptions,
  githubOAuth,
  googleOAuth,
  type OidcOAuthOptions,
  oidcOAuth,
  type PresetOptions,
} from "./login/presets.ts";
export {
  type UpstreamEndpoints,
  type UpstreamFetch,
  type UpstreamOAuthOptions,
  upstreamOAuth,
} from "./login/upstream.ts";
export type {
  Deployment,
  LoginKit,
  LoginProvider,
  PendingAuthorization,
  UpstreamTokenSet,
  UpstreamTokenSource,
  User,
} from "./login.ts";
export type { MetadataDocumentOptions } from "./metadata-document.ts";
export type { RateLimit, RateLimitOptions } from "./rate-limit.ts";
export { AuthorizationServer, authorizationServer } from "./server.ts";
export type {
  TokenExchangeOptions,
  TokenExchangePolicy,
  TokenExchangeRequest,
} from "./token-exchange-options.ts";
export type {
  WorkloadClient,
  WorkloadIdentityOptions,
  WorkloadIssuer,
} from "./workload-identity-options.ts";
