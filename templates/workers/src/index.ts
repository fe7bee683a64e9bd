// The MCP server as a Cloudflare Worker: /mcp behind the built-in authorization server, its
// state in a Durable Object.
import { McpServer, mcpApp } from "portcullis";
import { authorizationServer, devLogin } from "portcullis/auth";
import {
  durableObjectStore,
  PortcullisStore,
  type PortcullisStoreNamespace,
} from "portcullis/cloudflare";
import { z } from "zod";

export { PortcullisStore };

interface Env {
  PORTCULLIS_STORE: PortcullisStoreNamespace;
  /** Where the Worker is reached. A Worker cannot tell on its own; dev login needs loopback. */
  ISSUER: string;
  AUTH_SECRET?: string;
  MACHINE_CLIENT_SECRET?: string;
}

type App = ReturnType<typeof mcpApp>;

function createServer(): McpServer {
  const mcp = new McpServer({ name: "{{name}}", version: "0.1.0" });
  mcp.tool(
    "greet",
    {
      description: "Greet someone by name",
      input: z.object({ name: z.string().min(1).describe("Who to greet") }),
      annotations: { readOnlyHint: true },
      // Machine clients (client_credentials) may call it too.
      userRequired: false,
    },
    ({ name }, ctx) => `Hello, ${name}! (asked by ${ctx.auth?.subject ?? "anyone"})`,
  );
  return mcp;
}

function createApp(env: Env): App {
  return mcpApp(createServer(), {
    path: "/mcp",
    auth: authorizationServer({
      issuer: env.ISSUER,
      store: durableObjectStore(env.PORTCULLIS_STORE),
      // Any user name, on a loopback ISSUER only: put a real login here before deploying.
      login: devLogin(),
      ...(env.AUTH_SECRET && { secret: env.AUTH_SECRET }),
      ...(env.MACHINE_CLIENT_SECRET && {
        clients: [
          {
            client_id: "machine",
            client_secret: env.MACHINE_CLIENT_SECRET,
            grant_types: ["client_credentials"],
            redirect_uris: [],
          },
        ],
      }),
    }),
  });
}

// Built on the first request: workerd forbids random values at global scope.
let app: App | undefined;

export default {
  fetch(request: Request, env: Env, ctx: Parameters<App["fetch"]>[2]) {
    app ??= createApp(env);
    return app.fetch(request, env, ctx);
  },
};
