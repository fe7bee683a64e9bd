// The MCP server and its protection: tools here, sign-in by the built-in authorization server.
import { McpServer, mcpApp } from "portcullis";
import { authorizationServer, devLogin } from "portcullis/auth";
import { memoryStore } from "portcullis/storage";
import { z } from "zod";

/** The tools, resources and prompts this server offers. */
export function createServer() {
  const mcp = new McpServer({ name: "{{name}}", version: "0.1.0" });
  mcp.tool(
    "greet",
    {
      description: "Greet someone by name",
      input: z.object({ name: z.string().min(1).describe("Who to greet") }),
      annotations: { readOnlyHint: true },
      // Machine clients (client_credentials, no person behind them) may call it too; tools
      // are for signed-in people only unless they say so.
      userRequired: false,
    },
    ({ name }, ctx) => `Hello, ${name}! (asked by ${ctx.auth?.subject ?? "anyone"})`,
  );
  return mcp;
}

/**
 * The Hono app: /mcp behind the authorization server. People sign in with the dev login (any
 * user name; it runs on loopback only: put a real login in its place before deploying).
 * `machineClientSecret` adds a client "machine" that gets tokens with client_credentials.
 */
export function createApp(options = {}) {
  return mcpApp(createServer(), {
    path: "/mcp",
    auth: authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      ...(options.secret && { secret: options.secret }),
      ...(options.machineClientSecret && {
        clients: [
          {
            client_id: "machine",
            client_secret: options.machineClientSecret,
            grant_types: ["client_credentials"],
            redirect_uris: [],
          },
        ],
      }),
    }),
  });
}
