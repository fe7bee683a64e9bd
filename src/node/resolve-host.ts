import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/**
 * Every address a host name resolves to, through the system resolver: what the SSRF checks
 * (`resolveHost` options) already use by default on Node, Bun and Deno. Pass it, or your own
 * resolver, to be explicit; a name that leads to a private address is refused like the
 * address itself.
 */
export async function resolveHost(hostname: string): Promise<readonly string[]> {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) return [host];
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((entry) => entry.address);
}
