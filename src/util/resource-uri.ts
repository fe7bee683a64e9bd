/**
 * The canonical form of a resource indicator (RFC 8707): lowercase scheme and host, no
 * default port, no fragment, no trailing slash on a non-root path. Undefined when it is not
 * an absolute URI that can be one.
 */
export function canonicalResource(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.hash || value.includes("#")) return undefined;
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : "";
  return `${url.protocol}//${url.host}${path}${url.search}`;
}
