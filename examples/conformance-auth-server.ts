/**
 * The server the official MCP conformance suite's authorization-server scenarios run against
 * (`conformance authorization`, 0.2.0-alpha): the built-in authorization server protecting a
 * one-tool MCP endpoint, written on the public API only.
 *
 * The suite has no browser: it prints the authorization URL and waits for a request on its
 * loopback callback. scripts/conformance-auth.sh plays the user: a login provider that always
 * answers "conformance-user" makes sign-in non-interactive, and the script submits our real
 * consent page. The suite's client is pre-registered here as a public client (PKCE only) whose
 * loopback redirect URI may use any port (RFC 8252 §7.3).
 *
 *   PORT=3002 tsx examples/conformance-auth-server.ts   # issuer http://127.0.0.1:3002
 *
 * Never expose this server: anyone who reaches it is signed in as the test user.
 */
import { authorizationServer, customLogin } from "../src/auth/index.ts";
import { McpServer, mcpApp } from "../src/index.ts";
import { serve } from "../src/node/index.ts";
import { memoryStore } from "../src/storage/index.ts";

export const CONFORMANCE_CLIENT_ID = "conformance-client";
export const CONFORMANCE_USER = "conformance-user";

const hostname = process.env.HOST ?? "127.0.0.1";
if (hostname !== "127.0.0.1" && hostname !== "localhost" && hostname !== "::1") {
  throw new Error("The conformance authorization server signs everyone in: loopback only");
}

const mcp = new McpServer({ name: "portcullis-conformance-auth", version: "1.0.0" });
mcp.tool("whoami", { description: "Returns the signed-in subject" }, (_args, ctx) =>
  String(ctx.auth?.subject),
);

const app = mcpApp(mcp, {
  auth: authorizationServer({
    store: memoryStore(),
    login: customLogin({
      authenticate: () => ({ subject: CONFORMANCE_USER, name: "Conformance" }),
    }),
    clients: [
      {
        client_id: CONFORMANCE_CLIENT_ID,
        client_name: "MCP conformance suite",
        redirect_uris: ["http://127.0.0.1/callback"],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
      },
    ],
  }),
});

const running = await serve(app, { port: Number(process.env.PORT ?? 3002), hostname });
console.log(`conformance authorization server: issuer ${running.url}, resource ${running.url}/mcp`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void running.close().then(() => process.exit(0)));
}
