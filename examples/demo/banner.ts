/**
 * What `npm start` tells a first-time user: where the endpoint is, that it is protected and by
 * what, how to sign in, and the exact commands that connect the usual clients to it.
 */
export interface BannerFacts {
  /** The MCP endpoint, e.g. http://localhost:3000/mcp. */
  mcp: string;
  /** The .env file that was read, or undefined when there was none. */
  envFile: string | undefined;
}

export function demoBanner({ mcp, envFile }: BannerFacts): string {
  const origin = new URL(mcp).origin;
  return [
    `Portcullis demo: MCP endpoint at ${mcp}`,
    envFile
      ? `Settings read from ${envFile}.`
      : "No .env here: defaults apply (copy .env.example to .env to change them).",
    "",
    `${mcp} is protected by the built-in OAuth 2.1 authorization server at ${origin}`,
    `(metadata: ${origin}/.well-known/oauth-authorization-server). Clients find it on their own.`,
    "Sign in with the dev login: type any user name, then allow access. It runs on this",
    "machine only (loopback); production needs a real login (see README, Protection).",
    "",
    "Connect a client:",
    `  MCP Inspector:   npx @modelcontextprotocol/inspector`,
    `                   then Transport "Streamable HTTP", URL ${mcp}, Connect`,
    `  mcp-remote:      npx mcp-remote ${mcp}`,
    `                   (Claude Desktop and other stdio clients: command "npx",`,
    `                   args ["mcp-remote", "${mcp}"])`,
    `  portcullis CLI:  npm run cli -- connect ${mcp}`,
    `                   npm run cli -- call ${mcp} add_note --args '{"text":"hello"}'`,
    "",
    "Ctrl-C stops the server.",
  ].join("\n");
}
