import { declaredOver, readCappedText } from "../http/body.ts";
import { isLoopbackHost } from "../http/origin.ts";

/** Why an outbound fetch made on someone else's say-so was refused. */
export class FetchRefusedError extends Error {
  readonly code:
    | "ERR_URL_REFUSED"
    | "ERR_FETCH_FAILED"
    | "ERR_RESPONSE_TOO_LARGE"
    | "ERR_BAD_RESPONSE";

  constructor(code: FetchRefusedError["code"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FetchRefusedError";
    this.code = code;
  }
}

export interface SafeFetchOptions {
  /** The fetch to use; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Largest body read. Default 64 KiB. */
  maxBytes?: number;
  /** Whole-request time limit. Default 5 s. */
  timeoutMs?: number;
  /** Redirects followed, each one checked again. Default 3. */
  maxRedirects?: number;
  /** Allow http:// to loopback hosts (local development and tests only). */
  allowLoopback?: boolean;
  /**
   * Resolves a host name to its addresses so they can be checked too (DNS rebinding to a
   * private address). Node: `resolveHost` from portcullis/node. Without it, only literal
   * addresses and well-known internal names are refused.
   */
  resolveHost?: (hostname: string) => Promise<readonly string[]>;
  headers?: Record<string, string>;
}

function ipv4Parts(host: string): number[] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4) return undefined;
  const numbers = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
  return numbers.every((n) => n >= 0 && n <= 255) ? numbers : undefined;
}

/** Whether an address is private, loopback, link-local, or otherwise not on the public internet. */
export function isPrivateAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, "").toLowerCase();
  const v4 = ipv4Parts(host.startsWith("::ffff:") ? host.slice(7) : host);
  if (v4) {
    const [a, b] = v4 as [number, number, number, number];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  if (host.includes(":")) {
    return (
      host === "::" ||
      host === "::1" ||
      host.startsWith("fc") ||
      host.startsWith("fd") ||
      host.startsWith("fe8") ||
      host.startsWith("fe9") ||
      host.startsWith("fea") ||
      host.startsWith("feb") ||
      host.startsWith("ff") ||
      host.startsWith("::ffff:")
    );
  }
  return false;
}

const INTERNAL_NAMES = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa)$/i;

/** Throws when a URL may not be fetched under the given rules. */
export async function checkUrl(url: URL, options: SafeFetchOptions): Promise<void> {
  const loopback = isLoopbackHost(url.hostname);
  if (
    url.protocol !== "https:" &&
    !(options.allowLoopback && loopback && url.protocol === "http:")
  ) {
    throw new FetchRefusedError(
      "ERR_URL_REFUSED",
      `Refusing ${url.protocol} URL ${url.href}: https only`,
    );
  }
  if (url.username || url.password) {
    throw new FetchRefusedError("ERR_URL_REFUSED", "Refusing a URL with credentials");
  }
  if (loopback && options.allowLoopback) return;
  // A fully qualified name ("localhost.", "x.internal.") resolves like the name without the dot.
  const host = url.hostname.replace(/\.+$/, "");
  if (isPrivateAddress(host) || INTERNAL_NAMES.test(host) || loopback) {
    throw new FetchRefusedError("ERR_URL_REFUSED", `Refusing ${host}: not a public address`);
  }
  if (options.resolveHost) {
    const addresses = await options.resolveHost(host);
    if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
      throw new FetchRefusedError(
        "ERR_URL_REFUSED",
        `Refusing ${host}: it resolves to a private address`,
      );
    }
  }
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new FetchRefusedError("ERR_RESPONSE_TOO_LARGE", `Response larger than ${maxBytes} bytes`);
  if (declaredOver(response.headers, maxBytes)) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const text = await readCappedText(response.body, maxBytes);
  if (text === undefined) throw tooLarge();
  return text;
}

/**
 * GETs a JSON document from a URL someone else gave us, within limits: https only, public
 * addresses only (every redirect checked again), bounded size and time.
 */
export async function safeFetchJson(
  input: string,
  options: SafeFetchOptions = {},
): Promise<{ json: unknown; response: Response }> {
  const doFetch = options.fetch ?? fetch;
  const signal = AbortSignal.timeout(options.timeoutMs ?? 5000);
  let url = new URL(input);
  for (let hop = 0; ; hop++) {
    await checkUrl(url, options);
    let response: Response;
    try {
      response = await doFetch(url, {
        redirect: "manual",
        signal,
        headers: { accept: "application/json", ...options.headers },
      });
    } catch (error) {
      throw new FetchRefusedError("ERR_FETCH_FAILED", `Could not fetch ${url.href}`, {
        cause: error,
      });
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      if (hop >= (options.maxRedirects ?? 3)) {
        throw new FetchRefusedError("ERR_BAD_RESPONSE", "Too many redirects");
      }
      url = new URL(location, url);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new FetchRefusedError("ERR_BAD_RESPONSE", `${url.href} answered ${response.status}`);
    }
    const text = await readLimited(response, options.maxBytes ?? 64 * 1024);
    try {
      return { json: JSON.parse(text), response };
    } catch {
      throw new FetchRefusedError("ERR_BAD_RESPONSE", `${url.href} did not return JSON`);
    }
  }
}
