export { AccessDenied, PolicyDenied } from "./access.ts";
export * from "./apps/index.ts";
export type { Completer } from "./completion.ts";
export { isCallToolResult, isContentBlock, text, toBase64 } from "./content.ts";
export {
  type AppState,
  Context,
  type FormElicitation,
  type FormElicitResult,
  type InputOptions,
  type Logger,
  type TaskControl,
  type UrlElicitation,
} from "./context.ts";
export type {
  ExtensionConfig,
  ExtensionMethod,
  ExtensionOffer,
  MethodHandler,
  ToolCallRun,
} from "./extension.ts";
export { FrontmatterError, parseFrontmatter } from "./frontmatter.ts";
export * from "./jsonrpc.ts";
export {
  type EraName,
  type ErrorHandler,
  type Middleware,
  type MiddlewareCondition,
  MiddlewareContext,
  type MiddlewarePosition,
  type Next,
} from "./middleware.ts";
export {
  type AuthInfo,
  type CallerKind,
  type Exchange,
  Peer,
  type UpstreamAccess,
  userOf,
} from "./peer.ts";
export type { AccessCheck } from "./policy.ts";
export type { PromptConfig, PromptHandler, PromptMessageInput, PromptReturn } from "./prompts.ts";
export { RegisteredPrompt } from "./prompts.ts";
export {
  RateLimited,
  type RateLimitOptions,
  type RateRule,
  rateLimit,
  subjectKey,
} from "./rate-limit.ts";
export { AuthorizationRequired } from "./reauthorize.ts";
export {
  RegisteredResource,
  type ResourceConfig,
  type ResourceHandler,
  type ResourceInfo,
  type ResourceReturn,
  resourceNotFound,
  type TemplateVariables,
} from "./resources.ts";
export type { SchemaInput } from "./schema.ts";
export { McpServer, type McpServerOptions, type ServerEvent } from "./server.ts";
export {
  DIRECTORY_MIME_TYPE,
  SKILLS_EXTENSION,
  type SkillSource,
  type SkillsOptions,
  serveSkills,
} from "./skills.ts";
export * from "./tasks/index.ts";
export {
  errorResult,
  RegisteredTool,
  type ToolConfig,
  type ToolDelivery,
  ToolError,
  type ToolHandler,
  type ToolReturn,
} from "./tools.ts";
export type * from "./types.ts";
export { LOGGING_LEVELS } from "./types.ts";
export { UriTemplate } from "./uri-template.ts";
export { LATEST_VERSION, type ProtocolVersion, SESSION_ERA_VERSIONS } from "./versions.ts";
