import { isObject } from "../mcp/content.ts";
import type { JsonRpcErrorObject } from "../mcp/jsonrpc.ts";
import { TransportError } from "./errors.ts";
import type { SseEvent, SseParser } from "./sse-parser.ts";

/** What a reply's Content-Type says it carries. */
export function mediaTypeOf(response: Response): "json" | "sse" | undefined {
  const type = response.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type === "application/json") return "json";
  if (type === "text/event-stream") return "sse";
  return undefined;
}

function tooLarge(limit: number): TransportError {
  return new TransportError(
    "ERR_MESSAGE_TOO_LARGE",
    `The server's reply is larger than the limit of ${limit} bytes`,
  );
}

/** Reads a whole body as text, refusing more than `limit` bytes. */
export async function readText(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(limit);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** Drops a body we will not read, so the connection is released. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The TransportError for an HTTP error reply, with the JSON-RPC error the body may carry. */
export async function statusError(response: Response, what: string): Promise<TransportError> {
  let rpcError: JsonRpcErrorObject | undefined;
  try {
    const body: unknown = JSON.parse(await readText(response, 64 * 1024));
    if (isObject(body) && isObject(body.error) && typeof body.error.message === "string") {
      rpcError = body.error as unknown as JsonRpcErrorObject;
    }
  } catch {
    // Not JSON, or too long: the status says enough.
  }
  const status = response.status;
  const code =
    status === 401 ? "ERR_UNAUTHORIZED" : status === 403 ? "ERR_FORBIDDEN" : "ERR_HTTP_STATUS";
  const detail = rpcError?.message ?? response.statusText;
  const message = `${what} failed with HTTP ${status}${detail ? `: ${detail}` : ""}`;
  return new TransportError(code, message, rpcError ? { status, rpcError } : { status });
}

/**
 * Reads an SSE body through `parser`, handing each event to `onEvent`; `onEvent` returns true
 * to stop reading (the connection is then dropped). Resolves when the body ends or reading
 * stopped; rejects on a network error or an event over the parser's size limit.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  onEvent: (event: SseEvent) => boolean | undefined,
  signal: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  if (signal.aborted) return cancel();
  signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      let events: SseEvent[];
      try {
        events = parser.push(value);
      } catch (error) {
        cancel();
        throw error;
      }
      for (const event of events) {
        if (onEvent(event)) {
          cancel();
          return;
        }
      }
    }
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

/** Waits `ms`; resolves false at once if the signal aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
