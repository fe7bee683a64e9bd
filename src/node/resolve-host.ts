import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/**
 * Every address a host name resolves to, for the SSRF checks of `safeFetch` and the OAuth
 * authorizer (`resolveHost` options): a name that leads to a private address is refused like
 * the address itself.
 */
export async function resolveHost(hostname: string): Promise<readonly string[]> {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) return [host];
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((entry) => entry.address);
}
