// Bun entry: `bun examples/bun.ts`. The app is the same file every runtime serves.
import type { Hono } from "hono";
import { createDemoApp, demoOptionsFromEnv, loopbackIssuer } from "./demo/server.ts";

// Just the part of Bun's API this file uses, so the project needs no Bun type package.
declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: {
    port: number;
    hostname: string;
    idleTimeout: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { url: URL; port: number; stop(closeActiveConnections?: boolean): Promise<void> };
};

// Loopback unless told otherwise, as on Node: the dev login must not face a network.
const hostname = Bun.env.HOST ?? "127.0.0.1";
let app: Hono | undefined;
const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 3000),
  hostname,
  // Bun drops connections idle for 10 s by default; SSE streams idle longer between pings.
  idleTimeout: 120,
  fetch: (request) => app!.fetch(request),
});
// Bun does not tell the app where it listens: the dev login runs on a loopback issuer only,
// named here from the bind address (and the port Bun picked) unless ISSUER says otherwise.
const options = demoOptionsFromEnv(Bun.env);
const issuer = options.issuer ?? loopbackIssuer(hostname, server.port);
app = createDemoApp(issuer ? { ...options, issuer } : options);
console.log(`Portcullis demo on Bun: MCP endpoint at ${server.url.href.replace(/\/$/, "")}/mcp`);
