import {
  isIpAddress,
  isLoopbackAddress,
  isPrivateNetworkAddress,
  isPublicAddress,
  unbracket,
} from "./addresses.ts";
import { declaredOver, readCappedText } from "./body.ts";
import { PortcullisError } from "./errors.ts";
import { isLoopbackHost } from "./loopback.ts";
import { type ResolveHost, runtimeConnector, runtimeResolver } from "./pinned-fetch.ts";

export type { ResolveHost } from "./pinned-fetch.ts";

/** What the SSRF guard refused: codes of its own, apart from the client's AuthorizationError's. */
export type FetchRefusedCode =
  /** The URL, or an address its host resolves to, is not one that may be fetched. */
  | "ERR_GUARD_URL_REFUSED"
  /** The fetch failed on the network, or took longer than its time limit. */
  | "ERR_GUARD_FETCH_FAILED"
  /** The body is larger than `maxBytes`. */
  | "ERR_GUARD_RESPONSE_TOO_LARGE"
  /** Too many redirects, a status other than 200, or a body that is not JSON. */
  | "ERR_GUARD_BAD_RESPONSE";

/**
 * Why an outbound fetch made on someone else's say-so was refused. The message is the same
 * for every URL, safe to show the peer that gave it; what the check or the fetch found (the
 * addresses, the status, the network error) is on `cause`, for the operator only.
 */
export class FetchRefusedError extends PortcullisError {
  declare readonly code: FetchRefusedCode;

  constructor(code: FetchRefusedCode, detail: string, options?: { cause?: unknown }) {
    super(
      code,
      code === "ERR_GUARD_URL_REFUSED"
        ? "The URL is not allowed: only https URLs of hosts with public addresses are fetched"
        : "The URL could not be fetched",
      { cause: new Error(detail, options) },
    );
    this.name = "FetchRefusedError";
  }

  /** What was found, for logs: never show it to the peer. */
  get detail(): string {
    return this.cause instanceof Error ? this.cause.message : this.message;
  }
}

export interface SafeFetchOptions {
  /**
   * The fetch to send requests with. Default: on Node, Bun and Deno, a connection pinned to
   * the addresses that were checked; elsewhere (Workers) the global fetch. A fetch given here
   * connects wherever it resolves the name itself: the addresses are still checked first,
   * but a DNS answer that changes in between is not caught.
   */
  fetch?: typeof fetch;
  /** Largest body read. Default 64 KiB. */
  maxBytes?: number;
  /** Whole-request time limit. Default 5 s. */
  timeoutMs?: number;
  /** Redirects followed, each one checked again. Default 3. */
  maxRedirects?: number;
  /** Allow http:// to loopback hosts, and their loopback addresses (local development and tests only). */
  allowLoopback?: boolean;
  /**
   * Also allow private-network addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7),
   * for a peer you run on your own network. Loopback, link-local and cloud metadata addresses
   * stay refused. Default false.
   */
  allowPrivateNetwork?: boolean;
  /**
   * Resolves a host name to its addresses, every one of which must be public. Default: the
   * runtime's resolver on Node, Bun and Deno; none on Workers, where only the URL itself is
   * checked (see the README on what protects a Worker).
   */
  resolveHost?: ResolveHost;
  headers?: Record<string, string>;
}

/** Names that lead inside a network whatever DNS says about them. */
const INTERNAL_NAMES = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa)$/i;

function acceptable(address: string, options: SafeFetchOptions, loopbackHost: boolean): boolean {
  return (
    isPublicAddress(address) ||
    (loopbackHost && options.allowLoopback === true && isLoopbackAddress(address)) ||
    (options.allowPrivateNetwork === true && isPrivateNetworkAddress(address))
  );
}

/**
 * Checks a URL given by someone else and the addresses its host resolves to: https only (http
 * to loopback when allowed), no credentials, no internal names, and every address public.
 * Returns the vetted addresses to connect to, or undefined where the runtime cannot resolve
 * names (then only the URL itself was checked). Throws FetchRefusedError ERR_URL_REFUSED.
 */
export async function checkUrl(
  url: URL,
  options: SafeFetchOptions,
): Promise<readonly string[] | undefined> {
  const refuse = (detail: string, cause?: unknown) =>
    new FetchRefusedError("ERR_GUARD_URL_REFUSED", `Refusing ${url.href}: ${detail}`, { cause });
  const loopbackHost = isLoopbackHost(url.hostname);
  const httpAllowed = options.allowLoopback === true && loopbackHost;
  if (url.protocol !== "https:" && !(httpAllowed && url.protocol === "http:")) {
    throw refuse(`${url.protocol} is not https`);
  }
  if (url.username || url.password) throw refuse("it carries credentials");
  // A fully qualified name ("localhost.", "x.internal.") resolves like the name without the dot.
  const host = unbracket(url.hostname).replace(/\.+$/, "");
  if (isIpAddress(host)) {
    if (!acceptable(host, options, loopbackHost)) throw refuse(`${host} is not a public address`);
    return [host];
  }
  if (INTERNAL_NAMES.test(host) && !httpAllowed) throw refuse(`${host} is an internal name`);
  const resolve = options.resolveHost ?? runtimeResolver();
  if (!resolve) return undefined;
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    throw refuse(`${host} did not resolve`, error);
  }
  const refused = addresses.filter((address) => !acceptable(address, options, loopbackHost));
  if (addresses.length === 0) throw refuse(`${host} has no address`);
  if (refused.length) throw refuse(`${host} resolves to ${refused.join(", ")}`);
  return addresses;
}

/**
 * Sends one request to a URL given by someone else: checked with `checkUrl`, then connected
 * only to the vetted addresses where the runtime allows (so a DNS answer that changes after
 * the check cannot move the connection). Redirects are returned, never followed.
 */
export async function fetchChecked(
  url: URL,
  init: RequestInit,
  options: SafeFetchOptions,
): Promise<Response> {
  const addresses = await checkUrl(url, options);
  const connect = options.fetch || !addresses ? undefined : runtimeConnector();
  try {
    if (connect && addresses) return await connect(url, init, addresses);
    return await (options.fetch ?? fetch)(url.href, { ...init, redirect: "manual" });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FetchRefusedError(
      "ERR_GUARD_FETCH_FAILED",
      `Could not fetch ${url.href}: ${reason}`,
      {
        cause: error,
      },
    );
  }
}

async function readLimited(response: Response, url: URL, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new FetchRefusedError(
      "ERR_GUARD_RESPONSE_TOO_LARGE",
      `${url.href} sent more than the limit of ${maxBytes} bytes`,
    );
  if (declaredOver(response.headers, maxBytes)) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  let text: string | undefined;
  try {
    text = await readCappedText(response.body, maxBytes);
  } catch (error) {
    throw new FetchRefusedError("ERR_GUARD_FETCH_FAILED", `Reading ${url.href} failed`, {
      cause: error,
    });
  }
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
  const signal = AbortSignal.timeout(options.timeoutMs ?? 5000);
  let url = new URL(input);
  for (let hop = 0; ; hop++) {
    const response = await fetchChecked(
      url,
      { signal, headers: { accept: "application/json", ...options.headers } },
      options,
    );
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel().catch(() => undefined);
      if (hop >= (options.maxRedirects ?? 3)) {
        throw new FetchRefusedError("ERR_GUARD_BAD_RESPONSE", `${url.href}: too many redirects`);
      }
      url = new URL(location, url);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new FetchRefusedError(
        "ERR_GUARD_BAD_RESPONSE",
        `${url.href} answered ${response.status}`,
      );
    }
    const text = await readLimited(response, url, options.maxBytes ?? 64 * 1024);
    try {
      return { json: JSON.parse(text), response };
    } catch (error) {
      throw new FetchRefusedError("ERR_GUARD_BAD_RESPONSE", `${url.href} did not return JSON`, {
        cause: error,
      });
    }
  }
}

/**
 * A fetch for a library that makes its own requests (oauth4webapi): every request checked
 * and pinned like `fetchChecked`, bounded in time and size, and never redirected.
 */
export function guardedFetch(
  options: SafeFetchOptions,
): (input: string | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init = {}) => {
    const url = new URL(input);
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const response = await fetchChecked(url, { ...init, signal }, options);
    const empty = response.body === null || [204, 205, 304].includes(response.status);
    const text = empty ? null : await readLimited(response, url, options.maxBytes ?? 64 * 1024);
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    headers.delete("content-encoding");
    return new Response(text, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}
