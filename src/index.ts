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
