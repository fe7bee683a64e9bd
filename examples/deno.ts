// Deno entry: `deno run --allow-net --allow-env --allow-read --allow-sys=ca examples/deno.ts`.
// The app is the same file every runtime serves; Deno resolves its packages from node_modules.
// `--allow-sys=ca` lets the SSRF guard's pinned https connections (node:https) read the CA
// store: without it, fetching a client metadata document or a jwks_uri over https fails.
import { createDemoApp, demoOptionsFromEnv } from "./demo/server.ts";

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
  ): { finished: Promise<void>; shutdown(): Promise<void> };
};

const env = Deno.env.toObject();
const app = createDemoApp(demoOptionsFromEnv(env));
Deno.serve(
  {
    port: Number(env.PORT ?? 3000),
    // Loopback unless told otherwise, as on Node: the dev login must not face a network.
    hostname: env.HOST ?? "127.0.0.1",
    onListen: ({ hostname, port }) =>
      console.log(`Portcullis demo on Deno: MCP endpoint at http://${hostname}:${port}/mcp`),
  },
  (request) => app.fetch(request),
);
