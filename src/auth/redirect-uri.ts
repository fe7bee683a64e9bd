import { isLoopbackHost } from "../util/loopback.ts";

/** Schemes that can run code or smuggle content; never a redirect target. */
const FORBIDDEN_SCHEMES = new Set([
  "javascript:",
  "data:",
  "vbscript:",
  "file:",
  "blob:",
  "about:",
]);

export interface RedirectRules {
  /** Custom schemes a native client may register, e.g. ["cursor", "vscode"]. */
  allowedSchemes?: readonly string[];
}

/**
 * Why a redirect URI may not be registered, or undefined when it may: https anywhere, http
 * only on loopback, custom schemes only when allow-listed, never a fragment.
 */
export function redirectUriProblem(uri: string, rules: RedirectRules): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not an absolute URI";
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `uses the forbidden scheme ${url.protocol}`;
  if (url.hash || uri.includes("#")) return "must not contain a fragment";
  if (url.username || url.password) return "must not contain credentials";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:") {
    return isLoopbackHost(url.hostname) ? undefined : "uses http on a host that is not loopback";
  }
  const scheme = url.protocol.slice(0, -1);
  return rules.allowedSchemes?.includes(scheme)
    ? undefined
    : `uses the scheme ${scheme}, not allowed here`;
}

/**
 * Whether a redirect URI presented at /authorize matches a registered one: exactly, except
 * that a loopback URI may use any port (RFC 8252 §7.3).
 */
export function redirectUriMatches(presented: string, registered: string): boolean {
  if (presented === registered) return true;
  // An empty fragment ("…/callback#") parses to hash "", so look at the text itself.
  if (presented.includes("#")) return false;
  let a: URL;
  let b: URL;
  try {
    a = new URL(presented);
    b = new URL(registered);
  } catch {
    return false;
  }
  if (a.protocol !== "http:" || b.protocol !== "http:" || !isLoopbackHost(b.hostname)) return false;
  return (
    a.hostname === b.hostname &&
    a.pathname === b.pathname &&
    a.search === b.search &&
    !a.hash &&
    !a.username &&
    !a.password
  );
}
