export { auditFile, auditStream, type ClosableAuditSink } from "./audit.ts";
export {
  type FileTokenStoreOptions,
  fileTokenStore,
  TokenStoreError,
} from "./file-token-store.ts";
export { stdioUpstream } from "./gateway.ts";
export { type LoopbackRedirectOptions, loopbackRedirect } from "./loopback-redirect.ts";
export { resolveHost } from "./resolve-host.ts";
export { type NodeBindings, type RunningServer, type ServeOptions, serve } from "./serve.ts";
export {
  type ServeStdioOptions,
  type StdioClientOptions,
  StdioClientTransport,
  type StdioServer,
  serveStdio,
  stdioClientTransport,
} from "./stdio.ts";
