export {
  type AssertionContext,
  type ClientMetadata,
  OAuthAuthorizer,
  type OAuthAuthorizerOptions,
  type PreRegisteredClient,
} from "./authorizer.ts";
export { type BearerChallenge, parseBearerChallenge } from "./challenge.ts";
export {
  DiscoveryCache,
  type DiscoveryCacheOptions,
  discoveryCache,
} from "./discovery-cache.ts";
export { AuthorizationError, type AuthorizationErrorCode } from "./errors.ts";
export {
  type HeadlessRedirectOptions,
  headlessRedirect,
  type RedirectHandler,
  type RedirectSession,
} from "./redirect.ts";
export {
  type ClientAuthMethod,
  type IssuerRecord,
  memoryTokenStore,
  type StoredClient,
  type StoredTokens,
  type TokenStore,
} from "./store.ts";
export {
  callerToken,
  type ExchangedToken,
  type ExchangeTokenOptions,
  exchangeToken,
  type OnBehalfOfOptions,
  onBehalfOf,
} from "./token-exchange.ts";
