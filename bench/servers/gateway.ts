// The gateway in front of one upstream, for bench/run.ts. BENCH_UPSTREAM picks the upstream:
// - "http": the bench's own stateless Portcullis server (portcullis.js, JSON answers), started
//   here as a child process and reached over loopback HTTP;
// - "stdio": stdio-upstream.js, started by the gateway as its stdio upstream.
// Both children inherit this process's CPU pinning, so gateway and upstream share the server
// core; the runner counts the CPU time of the whole process tree.
//
// The upstream is published with `namespace: false`, so its tool is `echo` as on the direct
// server and bench/wrk/mcp.lua needs no change. Callers need an ES256 bearer token for a user,
// checked by jwksVerifier against a key made at startup and published on a loopback JWKS URL
// (a third-party issuer, as a deployment that signs in elsewhere would have: its signature is
// checked once, then the verified token is cached); the token is printed as `TOKEN <jwt>`
// before the ready line.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { gateway, type UpstreamOptions } from "../../src/gateway/index.ts";
import { jwksVerifier } from "../../src/index.ts";
import { stdioUpstream } from "../../src/node/index.ts";
import { silentLogger } from "../../src/util/log.ts";
import { startBenchServer } from "./_common.ts";

const here = dirname(fileURLToPath(import.meta.url));
const kind = process.env.BENCH_UPSTREAM ?? "http";
const issuer = "https://issuer.bench.invalid";
const audience = "https://gateway.bench.invalid/mcp";

/** Starts the HTTP upstream and resolves with its MCP URL once it prints its ready line. */
function startHttpUpstream(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(here, "portcullis.js")], {
    env: {
      ...process.env,
      BENCH_MODE: "stateless",
      BENCH_RESPONSE: "json",
      BENCH_AUTH: "",
      PORT: "0",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.on("exit", () => child.kill("SIGTERM"));
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.once("exit", (code) => reject(new Error(`HTTP upstream exited (${code})`)));
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const port = /^READY \S+ port=(\d+)/m.exec(buffered)?.[1];
      if (port) resolve({ url: `http://127.0.0.1:${port}/mcp`, child });
    });
  });
}

let upstream: UpstreamOptions;
if (kind === "http") {
  upstream = { name: "upstream", namespace: false, url: (await startHttpUpstream()).url };
} else if (kind === "stdio") {
  const command = { command: process.execPath, args: [join(here, "stdio-upstream.js")] };
  upstream = { name: "upstream", namespace: false, transport: stdioUpstream(command) };
} else {
  throw new Error(`bad BENCH_UPSTREAM ${kind}`);
}

const { publicKey, privateKey } = await generateKeyPair("ES256");
const jwks = JSON.stringify({
  keys: [{ ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256" }],
});
const keyServer = createServer((_request, response) => {
  response.writeHead(200, { "content-type": "application/json" }).end(jwks);
});
await new Promise<void>((resolve) => keyServer.listen(0, "127.0.0.1", resolve));
keyServer.unref();
const verify = jwksVerifier({
  issuer,
  jwksUri: `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks`,
  allowInsecureRequests: true,
});
const gw = await gateway({
  logger: silentLogger,
  upstreams: [upstream],
  auth: { issuer, audience, verify },
});
const token = await new SignJWT({ scope: "" })
  .setProtectedHeader({ alg: "ES256", kid: "bench" })
  .setIssuer(issuer)
  .setAudience(audience)
  .setSubject("bench-user")
  .setIssuedAt()
  .setExpirationTime("2h")
  .sign(privateKey);
console.log(`TOKEN ${token}`);
startBenchServer(`gateway-${kind}`, gw.app.fetch);
