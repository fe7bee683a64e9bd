import { addressKey, isIpAddress, unbracket } from "./addresses.ts";

/** Resolves a host name to every address it has. */
export type ResolveHost = (hostname: string) => Promise<readonly string[]>;

/** Sends one request to a URL over a connection to one of `addresses`, and no other. */
export type PinnedConnect = (
  url: URL,
  init: RequestInit,
  addresses: readonly string[],
) => Promise<Response>;

// The few pieces of node:dns and node:http(s) used here, typed by hand: this file is part of
// the core, which is also type-checked for Workers, without Node's types.
interface LookupAddress {
  address: string;
  family: number;
}
type Lookup = (
  hostname: string,
  options: { family?: number | string | undefined; all?: boolean | undefined },
  callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
) => void;
interface NodeSocket {
  connecting: boolean;
  remoteAddress?: string | undefined;
  once(event: "connect", listener: () => void): unknown;
}
interface NodeIncoming {
  statusCode?: number | undefined;
  statusMessage?: string | undefined;
  rawHeaders: string[];
  complete: boolean;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  once(event: "end" | "close", listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(error?: unknown): unknown;
}
interface NodeOutgoing {
  on(event: "error", listener: (error: Error) => void): unknown;
  once(event: "socket", listener: (socket: NodeSocket) => void): unknown;
  once(event: "response", listener: (response: NodeIncoming) => void): unknown;
  destroy(error?: unknown): unknown;
  end(body?: Uint8Array): unknown;
}
interface NodeHttp {
  request(options: {
    hostname: string;
    port?: number;
    path: string;
    method: string;
    headers: Record<string, string>;
    agent: false;
    lookup?: Lookup;
  }): NodeOutgoing;
}
interface NodeNetwork {
  dns: {
    promises: {
      lookup(hostname: string, options: { all: true; verbatim: boolean }): Promise<LookupAddress[]>;
    };
  };
  http: NodeHttp;
  https: NodeHttp;
}

/**
 * The runtime's node:dns and node:http(s), where it has them (Node, Bun, Deno), found through
 * `process.getBuiltinModule` so that nothing here is imported statically and the core still
 * bundles for Workers. workerd has these modules under nodejs_compat, but its node:http is
 * built on its own fetch and cannot be told where to connect, so it is not used there.
 */
function nodeNetwork(): NodeNetwork | undefined {
  if (typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers") {
    return undefined;
  }
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process;
  const load = runtime?.getBuiltinModule;
  if (typeof load !== "function") return undefined;
  try {
    const dns = load.call(runtime, "node:dns") as NodeNetwork["dns"] | undefined;
    const http = load.call(runtime, "node:http") as NodeHttp | undefined;
    const https = load.call(runtime, "node:https") as NodeHttp | undefined;
    return dns && http && https ? { dns, http, https } : undefined;
  } catch {
    return undefined;
  }
}

/** The runtime's own resolver (the system's, as any connection would use), where it has one. */
export function runtimeResolver(): ResolveHost | undefined {
  const network = nodeNetwork();
  if (!network) return undefined;
  return async (hostname) => {
    const found = await network.dns.promises.lookup(hostname, { all: true, verbatim: true });
    return found.map((entry) => entry.address);
  };
}

/** A connection pinned to vetted addresses, where the runtime can make one. */
export function runtimeConnector(): PinnedConnect | undefined {
  const network = nodeNetwork();
  return network && ((url, init, addresses) => pinnedRequest(network, url, init, addresses));
}

const familyOf = (address: string): 4 | 6 => (address.includes(":") ? 6 : 4);

/** A `lookup` for node:net that answers with the vetted addresses only. */
function pinnedLookup(addresses: readonly string[]): Lookup {
  return (hostname, options, callback) => {
    const wanted =
      options.family === 4 || options.family === "IPv4"
        ? 4
        : options.family === 6 || options.family === "IPv6"
          ? 6
          : 0;
    const entries = addresses
      .map((address) => ({ address, family: familyOf(address) }))
      .filter((entry) => wanted === 0 || entry.family === wanted);
    const first = entries[0];
    if (!first) {
      const error = Object.assign(new Error(`No vetted address for ${hostname}`), {
        code: "ENOTFOUND",
      });
      callback(error, "", 0);
    } else if (options.all) callback(null, entries);
    else callback(null, first.address, first.family);
  };
}

/** The response body as a Web stream that reads from the socket only as fast as it is pulled. */
function webBody(response: NodeIncoming): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const finish = (error?: Error) => {
        if (finished) return;
        finished = true;
        if (error) controller.error(error);
        else controller.close();
      };
      response.on("data", (chunk: Uint8Array) => {
        if (finished) return;
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) response.pause();
      });
      response.once("end", () => finish());
      response.on("error", (error) => finish(error));
      response.once("close", () => {
        if (!response.complete) finish(new Error("The connection closed before the body ended"));
      });
      response.pause();
    },
    pull() {
      response.resume();
    },
    cancel() {
      finished = true;
      response.destroy();
    },
  });
}

function responseHeaders(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

async function pinnedRequest(
  network: NodeNetwork,
  url: URL,
  init: RequestInit,
  addresses: readonly string[],
): Promise<Response> {
  // The Request constructor normalizes headers and body (a form's content type included).
  const request = new Request(url.href, {
    method: init.method ?? "GET",
    headers: init.headers ?? {},
    body: init.body ?? null,
  });
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
  const headers: Record<string, string> = { "user-agent": "portcullis" };
  for (const [name, value] of request.headers) headers[name] = value;
  headers.host = url.host;
  if (body) headers["content-length"] = String(body.byteLength);
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  const transport = url.protocol === "https:" ? network.https : network.http;
  const hostname = unbracket(url.hostname);

  return new Promise<Response>((resolve, reject) => {
    const outgoing = transport.request({
      hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: `${url.pathname}${url.search}`,
      method: request.method,
      headers,
      // A fresh connection each time: a pooled one may have been opened by other code to an
      // address nobody vetted.
      agent: false,
      ...(isIpAddress(hostname) ? {} : { lookup: pinnedLookup(addresses) }),
    });
    const abort = () => outgoing.destroy(signal?.reason ?? new Error("Aborted"));
    signal?.addEventListener("abort", abort, { once: true });
    const done = () => signal?.removeEventListener("abort", abort);
    outgoing.once("socket", (socket) => {
      // Belt and braces: whatever the runtime did with `lookup`, the peer must be vetted.
      const vetted = new Set(addresses.map(addressKey));
      const verify = () => {
        const peer = socket.remoteAddress;
        if (peer === undefined || !vetted.has(addressKey(peer))) {
          outgoing.destroy(
            new Error(`Connected to ${peer ?? "an unknown address"}, not a vetted one`),
          );
        }
      };
      if (socket.connecting) socket.once("connect", verify);
      else verify();
    });
    outgoing.on("error", (error) => {
      done();
      reject(error);
    });
    outgoing.once("response", (incoming) => {
      done();
      const status = incoming.statusCode ?? 0;
      try {
        if (status < 200 || status > 599) throw new Error(`Unexpected HTTP status ${status}`);
        const empty =
          request.method === "HEAD" || status === 204 || status === 205 || status === 304;
        if (empty) incoming.resume();
        // Abort now ends the body instead of the request.
        if (signal && !empty) {
          signal.addEventListener("abort", () => incoming.destroy(signal.reason), { once: true });
        }
        resolve(
          new Response(empty ? null : webBody(incoming), {
            status,
            statusText: incoming.statusMessage ?? "",
            headers: responseHeaders(incoming.rawHeaders),
          }),
        );
      } catch (error) {
        incoming.destroy();
        reject(error);
      }
    });
    outgoing.end(body);
  });
}
