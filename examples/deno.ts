// Deno entry: `deno run --allow-net --allow-env --allow-read --allow-sys=ca examples/deno.ts`.
// The app is the same file every runtime serves; Deno resolves its packages from node_modules.
// `--allow-sys=ca` lets the SSRF guard's pinned https connections (node:https) read the CA
// store: without it, fetching a client metadata document or a jwks_uri over https fails.
import type { Hono } from "hono";
import { createDemoApp, demoOptionsFromEnv, loopbackIssuer } from "./demo/server.ts";

// Just the part of Deno's API this file uses, so the project needs no Deno type package.
declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: {
      port: number;
      hostname: string;
      onListen?: (address: { hostname: string; port: number }) => void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): {
    addr: { hostname: string; port: number };
    finished: Promise<void>;
    shutdown(): Promise<void>;
  };
};

const env = Deno.env.toObject();
// Loopback unless told otherwise, as on Node: the dev login must not face a network.
const hostname = env.HOST ?? "127.0.0.1";
let app: Hono | undefined;
const server = Deno.serve(
  {
    port: Number(env.PORT ?? 3000),
    hostname,
    onListen: ({ hostname, port }) =>
      console.log(`Portcullis demo on Deno: MCP endpoint at http://${hostname}:${port}/mcp`),
  },
  (request) => app!.fetch(request),
);
// Deno does not tell the app where it listens: the dev login runs on a loopback issuer only,
// named here from the bind address (and the port Deno picked) unless ISSUER says otherwise.
const options = demoOptionsFromEnv(env);
const issuer = options.issuer ?? loopbackIssuer(hostname, server.addr.port);
app = createDemoApp(issuer ? { ...options, issuer } : options);
