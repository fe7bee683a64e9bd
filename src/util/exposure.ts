import { isLoopbackHost } from "./loopback.ts";

/**
 * Who can reach the server a request came through, as the runtime tells it and never as a
 * request header claims: "loopback" (this machine only), "network" (beyond it, or through a
 * reverse proxy), or "unknown" where the runtime does not say (Workers, Bun, Deno).
 */
export type Exposure = "loopback" | "network" | "unknown";

/** What `serve()` (portcullis/node) hands the app in `env`, under {@link LISTENING}. */
export interface Listening {
  /** The address the server is bound to, as given to listen(): "127.0.0.1", "0.0.0.0", "::"… */
  hostname: string;
  /** A reverse proxy stands in front: its forwarded headers shape the URL the app sees. */
  behindProxy: boolean;
}

export const LISTENING: unique symbol = Symbol.for("portcullis.listening");

/** 127.0.0.0/8, ::1, and the IPv4-mapped forms a dual-stack socket reports. */
function isLoopbackAddress(address: string): boolean {
  return isLoopbackHost(address.replace(/^::ffff:/i, ""));
}

/**
 * The exposure of the server behind a request, from its `env` (Hono's `c.env`): the bind
 * address `serve()` reports; else, on @hono/node-server, the local address the connection
 * arrived on; else unknown.
 */
export function exposureOf(env: unknown): Exposure {
  if (typeof env !== "object" || env === null) return "unknown";
  const listening = (env as { [LISTENING]?: Listening })[LISTENING];
  if (listening) {
    return isLoopbackHost(listening.hostname) && !listening.behindProxy ? "loopback" : "network";
  }
  const socket = (env as { incoming?: { socket?: { localAddress?: unknown } } }).incoming?.socket;
  if (typeof socket?.localAddress === "string") {
    return isLoopbackAddress(socket.localAddress) ? "loopback" : "network";
  }
  return "unknown";
}
