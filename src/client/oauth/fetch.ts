import { checkUrl, FetchRefusedError, fetchChecked, type ResolveHost } from "../../util/ssrf.ts";
import { AuthorizationError, findAuthorizationError } from "./errors.ts";

/** The limits every request the authorizer makes on a server's say-so is held to. */
export interface FetchPolicy {
  /** Undefined: connections pinned to the checked addresses where the runtime can (Node, Bun, Deno). */
  fetch?: typeof fetch | undefined;
  /** http:// to loopback hosts; everything else must be https to a public address. */
  allowLoopback: boolean;
  /** Private-network addresses too (never loopback, link-local or metadata ones). */
  allowPrivateNetwork?: boolean | undefined;
  resolveHost?: ResolveHost | undefined;
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

function safeFetchOptions(policy: FetchPolicy) {
  return {
    allowLoopback: policy.allowLoopback,
    ...(policy.allowPrivateNetwork && { allowPrivateNetwork: true }),
    ...(policy.resolveHost && { resolveHost: policy.resolveHost }),
    ...(policy.fetch && { fetch: policy.fetch }),
  };
}

/** The guard's refusal as ours; the person running the client is told what was found. */
function asAuthorizationError(error: unknown, url: URL): AuthorizationError {
  if (error instanceof FetchRefusedError) {
    const code = error.code === "ERR_GUARD_URL_REFUSED" ? "ERR_URL_REFUSED" : "ERR_FETCH_FAILED";
    return new AuthorizationError(code, error.detail, { cause: error });
  }
  return new AuthorizationError("ERR_URL_REFUSED", `Refusing ${url.href}: ${String(error)}`, {
    cause: error,
  });
}

/** Throws AuthorizationError ERR_URL_REFUSED when a URL breaks the policy. */
export async function checkTarget(url: URL, policy: FetchPolicy): Promise<void> {
  try {
    await checkUrl(url, safeFetchOptions(policy));
  } catch (error) {
    throw asAuthorizationError(error, url);
  }
}

/**
 * A body that errors once more than `maxBytes` arrive, or when `signal` aborts, so whoever
 * reads it (our JSON parsing, oauth4webapi) is bounded in size and time.
 */
function limitedBody(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  signal: AbortSignal,
  url: string,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let size = 0;
  const aborted = () =>
    new AuthorizationError("ERR_FETCH_TIMEOUT", `Reading ${url} took too long`, {
      cause: signal.reason,
    });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (signal.aborted) {
        await reader.cancel().catch(() => undefined);
        controller.error(aborted());
        return;
      }
      let stop: (() => void) | undefined;
      const abort = new Promise<never>((_, reject) => {
        stop = () => reject(aborted());
        signal.addEventListener("abort", stop, { once: true });
      });
      try {
        const { done, value } = await Promise.race([reader.read(), abort]);
        if (done) {
          controller.close();
          return;
        }
        size += value.byteLength;
        if (size > maxBytes) {
          await reader.cancel().catch(() => undefined);
          controller.error(
            new AuthorizationError(
              "ERR_RESPONSE_TOO_LARGE",
              `${url} sent more than ${maxBytes} bytes`,
            ),
          );
          return;
        }
        controller.enqueue(value);
      } catch (error) {
        await reader.cancel().catch(() => undefined);
        controller.error(
          error instanceof AuthorizationError
            ? error
            : signal.aborted
              ? aborted()
              : new AuthorizationError("ERR_FETCH_FAILED", `Reading ${url} failed`, {
                  cause: error,
                }),
        );
      } finally {
        if (stop) signal.removeEventListener("abort", stop);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => undefined);
    },
  });
}

/**
 * fetch with the policy applied: every URL (and every redirect hop, GET only) is checked
 * before it is contacted, the whole exchange including the body has a time limit, and bodies
 * are cut off at the size limit.
 */
export async function guardedFetch(
  policy: FetchPolicy,
  input: string | URL,
  init: RequestInit = {},
): Promise<Response> {
  const timeout = AbortSignal.timeout(policy.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  const method = (init.method ?? "GET").toUpperCase();
  let url = new URL(input);
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await fetchChecked(url, { ...init, signal }, safeFetchOptions(policy));
    } catch (error) {
      if (timeout.aborted) {
        throw new AuthorizationError("ERR_FETCH_TIMEOUT", `${url.href} did not answer in time`, {
          cause: error,
        });
      }
      throw asAuthorizationError(error, url);
    }
    const location = response.headers.get("location");
    if (method === "GET" && response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel().catch(() => undefined);
      if (hop >= policy.maxRedirects) {
        throw new AuthorizationError(
          "ERR_FETCH_FAILED",
          `${url.href} redirected more than ${policy.maxRedirects} times`,
        );
      }
      url = new URL(location, url);
      continue;
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > policy.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new AuthorizationError(
        "ERR_RESPONSE_TOO_LARGE",
        `${url.href} announced ${declared} bytes, more than the limit of ${policy.maxBytes}`,
      );
    }
    const body = response.body
      ? limitedBody(response.body, policy.maxBytes, signal, url.href)
      : null;
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }
}

/** The outcome of fetching a JSON document: its value, or the status that said "not here". */
export type JsonFetch =
  | { found: true; json: unknown; url: URL; headers: Headers }
  | { found: false; status: number };

/**
 * GETs a metadata document. A 4xx means "not at this location" (the caller tries the next
 * one); any other failure is an error.
 */
export async function fetchJson(policy: FetchPolicy, url: URL, what: string): Promise<JsonFetch> {
  const response = await guardedFetch(policy, url, {
    headers: { accept: "application/json" },
  });
  if (response.status >= 400 && response.status < 500) {
    await response.body?.cancel().catch(() => undefined);
    return { found: false, status: response.status };
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new AuthorizationError(
      "ERR_BAD_METADATA",
      `The ${what} at ${url.href} answered HTTP ${response.status}`,
    );
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw (
      findAuthorizationError(error) ??
      new AuthorizationError("ERR_FETCH_FAILED", `Reading ${url.href} failed`, { cause: error })
    );
  }
  try {
    return { found: true, json: JSON.parse(text), url, headers: response.headers };
  } catch (cause) {
    throw new AuthorizationError("ERR_BAD_METADATA", `The ${what} at ${url.href} is not JSON`, {
      cause,
    });
  }
}
