/**
 * The gateway in front of the project's conformance server, for the official conformance
 * suite: the server runs over stdio (examples/conformance-server.ts --stdio) as the gateway's
 * one upstream, published without a namespace, so the suite finds its fixtures by their own
 * names through the gateway.
 *
 * The suite's CLI cannot sign in, so the gateway here trusts one random bearer token, and a
 * loopback front adds it to requests that come without one. OAuth at the gateway is tested
 * elsewhere (test/gateway); this run measures what passes through it.
 *
 *   PORT=3002 node --import tsx examples/conformance-gateway.ts   # http://localhost:3002/mcp
 *   CONFORMANCE_GATEWAY_UPSTREAM=http  # the upstream over Streamable HTTP instead of stdio
 */
import { gateway } from "../src/gateway/index.ts";
import { memoryEventStore } from "../src/index.ts";
import { StdioClientTransport, serve } from "../src/node/index.ts";

const token = crypto.randomUUID();
const upstreamEntry = new URL("./conformance-server.ts", import.meta.url).pathname;
const overHttp = process.env.CONFORMANCE_GATEWAY_UPSTREAM === "http";

async function httpUpstream(): Promise<string> {
  const port = Number(process.env.UPSTREAM_PORT ?? Number(process.env.PORT ?? 3002) + 1);
  const child = (await import("node:child_process")).spawn(
    process.execPath,
    ["--import", "tsx", upstreamEntry],
    { env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" }, stdio: "inherit" },
  );
  process.once("exit", () => child.kill());
  const url = `http://127.0.0.1:${port}/mcp`;
  for (let i = 0; i < 150; i++) {
    if (
      await fetch(url).then(
        () => true,
        () => false,
      )
    )
      return url;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the conformance server did not start");
}

const gw = await gateway({
  name: "portcullis-gateway-conformance",
  upstreams: [
    overHttp
      ? { name: "conformance", namespace: false, url: await httpUpstream() }
      : {
          name: "conformance",
          namespace: false,
          transport: () =>
            new StdioClientTransport({
              command: process.execPath,
              args: ["--import", "tsx", upstreamEntry, "--stdio"],
              stderr: "inherit",
            }),
        },
  ],
  auth: {
    issuer: "http://localhost",
    verify: async (presented: string) =>
      presented === token
        ? { kind: "user" as const, subject: "conformance", scopes: [] }
        : undefined,
  },
  eventStore: memoryEventStore(),
});

const running = await serve(
  {
    fetch: (request, env) => {
      if (request.headers.has("authorization")) return gw.app.fetch(request, env);
      const headers = new Headers(request.headers);
      headers.set("authorization", `Bearer ${token}`);
      return gw.app.fetch(new Request(request, { headers }), env);
    },
  },
  { port: Number(process.env.PORT ?? 3002), hostname: process.env.HOST ?? "127.0.0.1" },
);
console.log(`gateway at ${running.url.replace("127.0.0.1", "localhost")}/mcp`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(
    signal,
    () => void Promise.all([running.close(), gw.close()]).then(() => process.exit(0)),
  );
}
