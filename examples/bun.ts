// Bun entry: `bun examples/bun.ts`. The app is the same file every runtime serves.
import { createDemoApp, demoOptionsFromEnv } from "./demo/server.ts";

// Just the part of Bun's API this file uses, so the project needs no Bun type package.
declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: {
    port: number;
    hostname: string;
    idleTimeout: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { url: URL; stop(closeActiveConnections?: boolean): Promise<void> };
};

const app = createDemoApp(demoOptionsFromEnv(Bun.env));
const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 3000),
  // Loopback unless told otherwise, as on Node: the dev login must not face a network.
  hostname: Bun.env.HOST ?? "127.0.0.1",
  // Bun drops connections idle for 10 s by default; SSE streams idle longer between pings.
  idleTimeout: 120,
  fetch: (request) => app.fetch(request),
});
console.log(`Portcullis demo on Bun: MCP endpoint at ${server.url.href.replace(/\/$/, "")}/mcp`);
