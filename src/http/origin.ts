import { isLoopbackHost } from "../util/loopback.ts";

/** Origin and Host rules that keep browsers on other sites, and DNS rebinding, out. */
export interface OriginOptions {
  /** Origins allowed besides the endpoint's own; "*" allows any. */
  allowedOrigins?: readonly string[];
  /** Host header values accepted; when set, any other Host gets 403. */
  allowedHosts?: readonly string[];
}

function hostnameOf(host: string): string {
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : (host.split(":")[0] ?? host);
}

/**
 * Whether a request may proceed. A browser request carries Origin: it must be the endpoint's
 * own origin, an allowed one, or, for an endpoint on loopback, its own port under another
 * loopback name.
 * Requests without Origin (non-browser clients) pass the Origin rule.
 */
export function checkOrigin(request: Request, options: OriginOptions): boolean {
  const origin = request.headers.get("origin");
  // Read only where a rule needs it; the URL is parsed only where no Host header came
  // (Workers and fetch always send one).
  const host =
    options.allowedHosts || origin !== null
      ? (request.headers.get("host") ?? new URL(request.url).host)
      : "";
  if (
    options.allowedHosts &&
    !options.allowedHosts.includes(host.toLowerCase()) &&
    !options.allowedHosts.includes(hostnameOf(host).toLowerCase())
  ) {
    return false;
  }
  if (origin === null) return true;
  const allowed = options.allowedOrigins;
  if (allowed && (allowed.includes("*") || allowed.includes(origin))) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.host === host) return true;
  // Another name for this same loopback server (localhost vs 127.0.0.1) is the same origin in
  // all but spelling; another loopback port is another program, and is refused.
  const port = (value: string) =>
    /:(\d+)$/.exec(value)?.[1] ?? (parsed.protocol === "https:" ? "443" : "80");
  return (
    isLoopbackHost(parsed.hostname) &&
    isLoopbackHost(hostnameOf(host)) &&
    port(parsed.host) === port(host.replace(/^\[[^\]]*\]/, "[]"))
  );
}
