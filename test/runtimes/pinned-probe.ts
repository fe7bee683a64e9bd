/**
 * Run by test/runtimes/pinned-fetch.test.ts under Node, Bun and Deno: exercises the SSRF
 * guard's pinned connection with that runtime's own node:dns and node:http(s), and prints
 * what happened as one JSON line. The TLS case needs test/fixtures/localhost-cert.pem trusted
 * (NODE_EXTRA_CA_CERTS for Node and Bun, DENO_CERT for Deno).
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { FetchRefusedError, safeFetchJson } from "../../src/util/ssrf.ts";

const fixtures = new URL("../fixtures/", import.meta.url);
const closers: (() => void)[] = [];

function handler(name: string, hits: string[]) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const sni = (request.socket as TLSSocket).servername;
    hits.push(`${request.headers.host}${request.url}${sni ? ` sni=${sni}` : ""}`);
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ server: name }));
  };
}

async function serve(name: string, address: string, port = 0, tls = false) {
  const hits: string[] = [];
  const server = tls
    ? createTlsServer(
        {
          key: readFileSync(new URL("localhost-key.pem", fixtures)),
          cert: readFileSync(new URL("localhost-cert.pem", fixtures)),
        },
        handler(name, hits),
      )
    : createServer(handler(name, hits));
  await new Promise<void>((done) => server.listen(port, address, done));
  closers.push(() => server.close());
  return { port: (server.address() as AddressInfo).port, hits };
}

async function outcome(run: () => Promise<{ json: unknown }>) {
  try {
    return { json: (await run()).json };
  } catch (error) {
    if (error instanceof FetchRefusedError) return { refused: error.code, detail: error.detail };
    return { error: String(error) };
  }
}

const vetted = await serve("vetted", "127.0.0.2");
const impostor = await serve("impostor", "127.0.0.3", vetted.port);
const local = await serve("local", "127.0.0.1");
const secure = await serve("secure", "127.0.0.1", 0, true);
let calls = 0;

const report = {
  runtime: "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : `node ${process.version}`,
  // The first answer is vetted and connected to; a later one (the impostor) is never asked.
  pinned: await outcome(() =>
    safeFetchJson(`http://localhost:${vetted.port}/doc`, {
      allowLoopback: true,
      resolveHost: async () => (++calls === 1 ? ["127.0.0.2"] : ["127.0.0.3"]),
    }),
  ),
  calls: 0,
  vettedHits: vetted.hits,
  impostorHits: impostor.hits,
  // No resolver passed in: the runtime's own resolves localhost.
  system: await outcome(() =>
    safeFetchJson(`http://localhost:${local.port}/doc`, { allowLoopback: true }),
  ),
  // TLS over the pinned connection: the certificate is checked against the name (SNI too).
  tls: await outcome(() =>
    safeFetchJson(`https://localhost:${secure.port}/doc`, { allowLoopback: true }),
  ),
  // The same server by address: the certificate does not name it, so the fetch must fail.
  tlsWrongName: await outcome(() =>
    safeFetchJson(`https://127.0.0.1:${secure.port}/doc`, { allowLoopback: true }),
  ),
  secureHits: secure.hits,
  refused: await outcome(() =>
    safeFetchJson("https://inward.attacker.test/doc", {
      resolveHost: async () => ["169.254.169.254"],
    }),
  ),
};
report.calls = calls;
console.log(JSON.stringify(report));
for (const close of closers) close();
process.exit(0);
