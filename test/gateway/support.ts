/**
 * Shared pieces of the gateway tests: real third-party upstreams from npm (the reference
 * "everything" and "filesystem" servers) started over stdio or HTTP, and a gateway in front
 * of them behind the built-in authorization server with dev login, served on localhost.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll } from "vitest";
import {
  type AuthorizationServerOptions,
  authorizationServer,
  devLogin,
} from "../../src/auth/index.ts";
import { McpClient, memoryTokenStore, OAuthAuthorizer } from "../../src/client/index.ts";
import type { ClientHandlers } from "../../src/client/options.ts";
import type { ClientTransport } from "../../src/client/transport.ts";
import { type Gateway, type GatewayOptions, gateway } from "../../src/gateway/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import type { JsonObject } from "../../src/mcp/types.ts";
import { StdioClientTransport } from "../../src/node/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { devLoginRedirect, serveOnLocalhost } from "../client/oauth/support.ts";
import { until } from "../helpers/async.ts";
import { listen, post } from "../helpers/http.ts";
import { authorizeWithDevLogin, redeemCode } from "../helpers/oauth.ts";

const require = createRequire(import.meta.url);
export const EVERYTHING = join(
  dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
  "dist/index.js",
);
export const FILESYSTEM = join(
  dirname(require.resolve("@modelcontextprotocol/server-filesystem/package.json")),
  "dist/index.js",
);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Stdio upstream transports that remember their processes, so a test can kill one. */
export function spawning(
  args: string[],
  env?: Record<string, string>,
): {
  transport: () => StdioClientTransport;
  spawned: StdioClientTransport[];
} {
  const spawned: StdioClientTransport[] = [];
  return {
    spawned,
    transport: () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args,
        stderr: "ignore",
        ...(env && { env }),
      });
      spawned.push(transport);
      return transport;
    },
  };
}

/** One message on an upstream connection, as the gateway's client sent or received it. */
export interface WireMessage {
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/**
 * Wraps upstream transports so a test can read the gateway's traffic with its upstream:
 * `sent` what the gateway's client sent, `received` what the upstream answered or pushed.
 */
export function recording(transport: () => ClientTransport): {
  transport: () => ClientTransport;
  sent: WireMessage[];
  received: WireMessage[];
} {
  const sent: WireMessage[] = [];
  const received: WireMessage[] = [];
  return {
    sent,
    received,
    transport: () => {
      const inner = transport();
      // Delegates member by member: the inner transport's private fields need it as `this`.
      const wrapped: ClientTransport = {
        start: (handlers) =>
          inner.start({
            ...handlers,
            message: (value) => {
              received.push(value as WireMessage);
              handlers.message(value);
            },
          }),
        send: (message, options) => {
          sent.push(message as WireMessage);
          return inner.send(message, options);
        },
        close: (options) => inner.close(options),
        get sessionId() {
          return inner.sessionId;
        },
        get cancelsByClosing() {
          return inner.cancelsByClosing === true;
        },
        ...(inner.setProtocolVersion && {
          setProtocolVersion: (version: string) => inner.setProtocolVersion!(version),
        }),
        ...(inner.listen && { listen: () => inner.listen!() }),
        ...(inner.restore && { restore: (snapshot) => inner.restore!(snapshot) }),
        ...(inner.reset && { reset: () => inner.reset!() }),
      };
      return wrapped;
    },
  };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "portcullis-gateway-"));
}

/** The everything server in its Streamable HTTP mode, on a free loopback port. */
export async function everythingOverHttp(): Promise<string> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [EVERYTHING, "streamableHttp"], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  cleanups.push(() => child.kill());
  let ready = false;
  child.stderr.on("data", (chunk: Buffer) => {
    if (chunk.toString().includes("listening on port")) ready = true;
  });
  await until(() => ready || child.exitCode !== null, 20_000);
  if (!ready) throw new Error("the everything server did not start over HTTP");
  return `http://127.0.0.1:${port}/mcp`;
}

/**
 * An open MCP server over HTTP (no auth) whose `whoami` tool records the Authorization header
 * each call reached it with, to show what a caller's token does (not) pass upstream.
 */
export async function headerRecorder(): Promise<{
  url: string;
  authorizations: (string | null)[];
}> {
  const authorizations: (string | null)[] = [];
  const mcp = new McpServer({ name: "header-recorder", version: "1.0.0" });
  mcp.tool("whoami", { description: "The Authorization header this call came with" }, (_a, ctx) => {
    const authorization = ctx.c?.req.header("authorization") ?? null;
    authorizations.push(authorization);
    return { authorization };
  });
  return { url: `${await listen(mcpApp(mcp))}/mcp`, authorizations };
}

/**
 * A gateway behind the built-in authorization server, served on localhost. `authOptions` adds
 * to that server's options (e.g. other `resources` it issues tokens for).
 */
export async function startGateway(
  options: Omit<GatewayOptions, "auth">,
  authOptions: Partial<AuthorizationServerOptions> = {},
): Promise<{ gw: Gateway; base: string; url: string }> {
  const gw = await gateway({
    ...options,
    auth: authorizationServer({ store: memoryStore(), login: devLogin(), ...authOptions }),
  });
  cleanups.push(() => gw.close());
  const base = await serveOnLocalhost(gw.app);
  return { gw, base, url: `${base}/mcp` };
}

/** Our client signed in to the gateway as `user` through dev login and consent. */
export async function signedIn(
  base: string,
  options: {
    user?: string;
    narrowScope?: () => string | undefined;
    protocolVersion?: string;
    handlers?: ClientHandlers;
    onResourceUpdated?: (uri: string) => void;
    onToolsChanged?: () => void;
    onPromptsChanged?: () => void;
  } = {},
): Promise<{ client: McpClient; authorizations: URL[]; authorizer: OAuthAuthorizer }> {
  const { redirect, authorizations } = devLoginRedirect(base, {
    ...(options.user && { user: options.user }),
    ...(options.narrowScope && { narrowScope: options.narrowScope }),
  });
  const authorizer = new OAuthAuthorizer({ redirect, tokens: memoryTokenStore() });
  const client = new McpClient({
    name: "gateway-test",
    version: "1.0.0",
    ...(options.protocolVersion && { protocolVersion: options.protocolVersion }),
    ...(options.handlers && { handlers: options.handlers }),
    ...(options.onResourceUpdated && { onResourceUpdated: options.onResourceUpdated }),
    ...(options.onToolsChanged && { onToolsChanged: options.onToolsChanged }),
    ...(options.onPromptsChanged && { onPromptsChanged: options.onPromptsChanged }),
  });
  cleanups.push(() => client.close());
  await client.connect(`${base}/mcp`, { authorizer });
  return { client, authorizations, authorizer };
}

/**
 * An access token for `scope`, through dev login and consent and the token endpoint; for the
 * gateway's endpoint unless another `resource` is named.
 */
export async function accessToken(
  at: string,
  scope: string,
  user = "alice",
  resource = `${at}/mcp`,
): Promise<string> {
  const grant = await authorizeWithDevLogin(at, { scope, user, resource });
  return redeemCode(at, grant, resource);
}

/** A raw 2026-07-28 `tools/call` (envelope and mirrored headers) with a bearer token. */
export function postToolCall(
  url: string,
  token: string,
  name: string,
  args: JsonObject,
  capabilities: JsonObject = {},
): Promise<Response> {
  return post(
    url,
    {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
          "io.modelcontextprotocol/clientCapabilities": capabilities,
        },
      },
    },
    {
      authorization: `Bearer ${token}`,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
  );
}
