export * from "./http/index.ts";
export * from "./mcp/index.ts";
export * from "./resource/index.ts";
export {
  type BuiltInAuthorizationServer,
  type EndpointAuth,
  protectEndpoint,
  type RemoteAuthOptions,
  registeredScopes,
} from "./resource/protect.ts";
export { PortcullisError, UnavailableError } from "./util/errors.ts";
export {
  type ConsoleLoggerOptions,
  consoleLogger,
  type LogFields,
  type Logger as ServerLogger,
  type LogLevel,
  silentLogger,
} from "./util/log.ts";
