export { type RunningServer, type ServeOptions, serve } from "./serve.ts";
export {
  type ServeStdioOptions,
  type StdioClientOptions,
  StdioClientTransport,
  type StdioServer,
  serveStdio,
  stdioClientTransport,
} from "./stdio.ts";
