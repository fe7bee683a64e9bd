export {
  APP_MIME_TYPE,
  APPS_EXTENSION,
  toolUiUri,
  toolVisibility,
  type UiCsp,
  type UiResourceMeta,
  type UiVisibility,
} from "../mcp/apps/meta.ts";
export { ServerEndpoint, type ServerEndpointOptions } from "../mcp/channel.ts";
export { PortcullisError, UnavailableError } from "../util/errors.ts";
export { readToolUi, type ToolUi, type ToolUiSource } from "./apps.ts";
export type { Authorizer } from "./auth-seam.ts";
export { McpClient } from "./client.ts";
export type { InboundRequest, Progress, RequestOptions } from "./connection.ts";
export type { DeliveryInbox, DeliverySlot } from "./deliveries.ts";
export {
  type ClientWarning,
  ErrorCode,
  McpError,
  OutputSchemaError,
  ProtocolError,
  type ProtocolErrorCode,
  ProtocolVersionError,
  TaskError,
  type TaskErrorCode,
  TransportError,
  type TransportErrorCode,
} from "./errors.ts";
export type { Negotiated } from "./handshake.ts";
export type { ConnectionState, PingOptions, StateChange } from "./health.ts";
export {
  type StreamableHttpClientOptions,
  StreamableHttpClientTransport,
  streamableHttp,
} from "./http.ts";
export { type LlmContent, type ToolResultLike, toLlmContent } from "./llm-content.ts";
export {
  ConnectionManager,
  type ConnectionManagerOptions,
  type ManagedServer,
  type ManagedServerHooks,
  type ManagedTool,
  type ServerStatus,
} from "./manager.ts";
export { inMemoryTransport } from "./memory.ts";
export {
  type AssertionContext,
  AuthorizationError,
  type AuthorizationErrorCode,
  type BearerChallenge,
  type ClientAuthMethod,
  type ClientMetadata,
  callerToken,
  DiscoveryCache,
  type DiscoveryCacheOptions,
  discoveryCache,
  type ExchangedToken,
  type ExchangeTokenOptions,
  exchangeToken,
  type HeadlessRedirectOptions,
  headlessRedirect,
  type IssuerRecord,
  memoryTokenStore,
  OAuthAuthorizer,
  type OAuthAuthorizerOptions,
  type OnBehalfOfOptions,
  onBehalfOf,
  type PreRegisteredClient,
  parseBearerChallenge,
  type RedirectHandler,
  type RedirectSession,
  type StoredClient,
  type StoredTokens,
  type TokenStore,
} from "./oauth/index.ts";
export type {
  CallToolOptions,
  ClientHandlers,
  ClientMiddleware,
  ConnectOptions,
  HandlerExtra,
  McpClientOptions,
  OutgoingRequestInfo,
  StartToolOptions,
} from "./options.ts";
export {
  type StoreClientStateOptions,
  type StoreTokenStoreOptions,
  storeClientState,
  storeTokenStore,
} from "./persistence.ts";
export type { ReconnectOptions } from "./reconnect.ts";
export type { RestartOptions } from "./restart.ts";
export type { ClientTimers, RetryOptions } from "./retry.ts";
export {
  type LoadedSkill,
  parseSkillEntry,
  SKILLS_EXTENSION,
  type SkillEntry,
  SkillError,
  type SkillErrorCode,
  type SkillFile,
  Skills,
} from "./skills.ts";
export { type SseEvent, SseParser } from "./sse-parser.ts";
export { type ClientState, type ClientStateStore, memoryClientState } from "./state.ts";
export type { StrictOptions } from "./strict.ts";
export { TASKS_EXTENSION } from "./task-info.ts";
export type { TaskHandle, TaskWaitOptions } from "./tasks.ts";
export type {
  ClientTransport,
  SendOptions,
  SessionSnapshot,
  SessionUpdate,
  TransportHandlers,
} from "./transport.ts";
export type * from "./types.ts";
export { CLIENT_VERSIONS } from "./versions.ts";
