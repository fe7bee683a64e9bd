import type { Context } from "hono";

// A host name or bracketed IP literal, with an optional port: nothing else is taken from a header.
const FORWARDED_HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

function firstValue(header: string | undefined): string | undefined {
  const value = header?.split(",")[0]?.trim();
  return value || undefined;
}

/**
 * The URL the client addressed: the request's own, or, behind a reverse proxy that is
 * trusted, its scheme and host from X-Forwarded-Proto and X-Forwarded-Host. Malformed values
 * are ignored rather than trusted; without `trustProxy` the headers are never read (anyone
 * could send them).
 */
export function externalUrl(c: Context, trustProxy: boolean): string {
  if (!trustProxy) return c.req.url;
  const proto = firstValue(c.req.header("x-forwarded-proto"))?.toLowerCase();
  const host = firstValue(c.req.header("x-forwarded-host"));
  if (proto === undefined && host === undefined) return c.req.url;
  const url = new URL(c.req.url);
  if (proto === "http" || proto === "https") url.protocol = `${proto}:`;
  if (host !== undefined && FORWARDED_HOST.test(host)) {
    const target = new URL(`${url.protocol}//${host}`);
    url.hostname = target.hostname;
    url.port = target.port;
  }
  return url.href;
}
