/**
 * What the gateway costs per tools/call: the reference "everything" server over stdio, called
 * directly by our client, against the same server behind the gateway (loopback HTTP, bearer
 * check, forwarding). Sequential calls, same run; prints the per-call times and the ratio.
 * `npx tsx bench/gateway.ts [calls]`
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { McpClient } from "../src/client/index.ts";
import { gateway } from "../src/gateway/index.ts";
import { StdioClientTransport, serve } from "../src/node/index.ts";
import { silentLogger } from "../src/util/log.ts";

const calls = Number(process.argv[2] ?? 2000);
const require = createRequire(import.meta.url);
const everything = join(
  dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
  "dist/index.js",
);
const stdio = () =>
  new StdioClientTransport({
    command: process.execPath,
    args: [everything, "stdio"],
    stderr: "ignore",
  });

async function timePerCall(client: McpClient, name: string): Promise<number> {
  for (let i = 0; i < 200; i++) await client.callTool(name, { message: "warm" });
  const start = performance.now();
  for (let i = 0; i < calls; i++) await client.callTool(name, { message: `call ${i}` });
  return (performance.now() - start) / calls;
}

const direct = new McpClient({ name: "bench", version: "1" });
await direct.connect(stdio());
const directMs = await timePerCall(direct, "echo");
await direct.close();

// A fixed bearer token, checked by a trivial verifier: the cost measured is the gateway's.
const gw = await gateway({
  logger: silentLogger,
  upstreams: [{ name: "everything", transport: stdio }],
  auth: {
    issuer: "https://issuer.example",
    verify: async (token: string) =>
      token === "bench-token" ? { kind: "user" as const, subject: "bench", scopes: [] } : undefined,
  },
});
// A native tool on the same endpoint: the share of HTTP and the bearer check, no forwarding.
gw.server.tool("native_echo", { userRequired: false }, (args) => JSON.stringify(args));
const server = await serve(gw.app, { port: 0, hostname: "127.0.0.1" });
for (const version of ["2026-07-28", "2025-11-25"]) {
  const client = new McpClient({
    name: "bench",
    version: "1",
    protocolVersion: version === "2026-07-28" ? "auto" : version,
  });
  await client.connect(`${server.url}/mcp`, { headers: { authorization: "Bearer bench-token" } });
  const viaMs = await timePerCall(client, "everything_echo");
  const nativeMs = await timePerCall(client, "native_echo");
  await client.close();
  console.log(
    `${version}: a native tool on the gateway's endpoint ${(nativeMs * 1000).toFixed(0)} µs/call`,
  );
  console.log(
    `${version}: direct ${(directMs * 1000).toFixed(0)} µs/call, through the gateway ${(viaMs * 1000).toFixed(0)} µs/call, ratio ${(viaMs / directMs).toFixed(2)}x (+${((viaMs - directMs) * 1000).toFixed(0)} µs)`,
  );
}
await server.close();
await gw.close();
