import type { ClientTransport } from "../client/transport.ts";
import { type StdioClientOptions, StdioClientTransport } from "./stdio.ts";

/**
 * The `transport` of a gateway upstream that is a program speaking MCP over stdio: a new
 * process for each connection (each restart, each user of a per-user upstream). Its
 * environment comes from `env` (configuration) and a few harmless variables of this process,
 * never from callers. Its stderr is passed through unless `stderr` says otherwise.
 */
export function stdioUpstream(options: StdioClientOptions): () => ClientTransport {
  if (typeof options.command !== "string" || options.command === "") {
    throw new TypeError("stdioUpstream(): command must be a non-empty string");
  }
  return () => new StdioClientTransport(options);
}
