import type { Readable, Writable } from "node:stream";
import type { Authorizer } from "../../client/auth-seam.ts";
import { TransportError } from "../../client/errors.ts";
import { StreamableHttpClientTransport } from "../../client/http.ts";
import { isObject } from "../../mcp/content.ts";
import type { JsonRpcMessage, RequestId } from "../../mcp/jsonrpc.ts";
import { readLines } from "../lines.ts";

export interface ProxyOptions {
  url: string | URL;
  authorizer?: Authorizer;
  headers?: Record<string, string>;
  /** The fetch for the endpoint. Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * Time for each forwarded request's reply, started over by its progress and left out while
   * the person signs in. Default: no limit (the local client keeps its own).
   */
  timeoutMs?: number;
  input: Readable;
  output: Writable;
  /** Where diagnostics go (never stdout: it carries the protocol). */
  log: (line: string) => void;
  /** Largest line accepted from the local client. Default 16 MiB. */
  maxMessageBytes?: number;
}

const PROTOCOL_META = "io.modelcontextprotocol/protocolVersion";
/** JSON-RPC: the proxy could not deliver the request (the server, the network, authorization). */
const PROXY_ERROR = -32000;

function isId(value: unknown): value is RequestId {
  return typeof value === "string" || typeof value === "number";
}

/**
 * Bridges a local stdio MCP client to a remote Streamable HTTP server: every line on `input` is
 * one JSON-RPC message, POSTed as it comes; replies, notifications and the server's own
 * requests are written to `output`, one per line. The local client does its own initialize;
 * the proxy only learns the negotiated revision from it, to label later requests. A request
 * the server could not be asked (refused, unreachable, not authorized) is answered with a
 * JSON-RPC error, so the local client never waits for nothing. Resolves when `input` ends.
 */
export async function runProxy(options: ProxyOptions): Promise<void> {
  const { output, log } = options;
  const transport = new StreamableHttpClientTransport(options.url, {
    ...(options.authorizer && { authorizer: options.authorizer }),
    ...(options.headers && { headers: options.headers }),
    ...(options.fetch && { fetch: options.fetch }),
  });
  const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
  const write = (message: unknown) => {
    output.write(`${JSON.stringify(message)}\n`);
  };
  /** Requests forwarded and not yet answered: a late failure must not answer them twice. */
  const waiting = new Set<RequestId>();
  /** Restarts a request's time limit, by the progress token it asked progress under. */
  const progressing = new Map<string | number, () => void>();
  const fail = (id: RequestId, reason: unknown) => {
    if (!waiting.delete(id)) return;
    const error = typeof reason === "function" ? (reason as () => unknown)() : reason;
    const message = error instanceof Error ? error.message : String(error);
    const code =
      error instanceof Error && "code" in error && typeof error.code === "string"
        ? error.code
        : undefined;
    write({
      jsonrpc: "2.0",
      id,
      error: { code: PROXY_ERROR, message, ...(code && { data: { code } }) },
    });
  };
  /** Ids of initialize requests in flight: their result names the revision. */
  const opening = new Set<RequestId>();
  let closed!: () => void;
  const ended = new Promise<void>((resolve) => {
    closed = resolve;
  });

  await transport.start({
    message(value) {
      if (isObject(value) && isId(value.id) && !("method" in value)) waiting.delete(value.id);
      if (isObject(value) && value.method === "notifications/progress") {
        const token = isObject(value.params) ? value.params.progressToken : undefined;
        if (isId(token)) progressing.get(token)?.();
      }
      if (isObject(value) && isId(value.id) && opening.delete(value.id)) {
        const result = value.result;
        if (isObject(result) && typeof result.protocolVersion === "string") {
          transport.setProtocolVersion(result.protocolVersion);
        }
      }
      write(value);
    },
    lost(id, error) {
      fail(id, error);
    },
    closed() {
      closed();
    },
    sessionExpired() {
      log("The server ended the session; the client has to initialize again.");
      transport.reset();
    },
    warning(warning) {
      log(`warning: ${warning.message}`);
    },
  });

  const forward = async (message: JsonRpcMessage) => {
    const request = "method" in message && "id" in message && isId(message.id);
    if ("method" in message) {
      const params = isObject(message.params) ? message.params : undefined;
      const meta = params && isObject(params._meta) ? params._meta : undefined;
      // A 2026-07-28 client names its revision on every request.
      if (typeof meta?.[PROTOCOL_META] === "string") {
        transport.setProtocolVersion(meta[PROTOCOL_META]);
      }
      if (message.method === "initialize" && request) opening.add(message.id as RequestId);
    }
    const limit = request ? timeLimit(message) : undefined;
    if (request) waiting.add(message.id as RequestId);
    try {
      await transport.send(message, limit?.send ?? {});
      if ("method" in message && message.method === "notifications/initialized") {
        transport.listen();
      }
    } catch (error) {
      if (request) {
        opening.delete(message.id as RequestId);
        fail(message.id as RequestId, error);
      } else {
        log(
          `could not deliver ${"method" in message ? message.method : "a reply"}: ${String(error)}`,
        );
      }
    } finally {
      limit?.stop();
    }
  };

  /** A forwarded request's time limit: paused while authorizing, restarted by its progress. */
  const timeLimit = (message: JsonRpcMessage) => {
    const method = "method" in message ? message.method : "request";
    const params = "params" in message && isObject(message.params) ? message.params : undefined;
    const meta = params && isObject(params._meta) ? params._meta : undefined;
    const token = meta?.progressToken;
    const exchange = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let authorizing = 0;
    const arm = () => {
      clearTimeout(timer);
      if (authorizing > 0 || !Number.isFinite(timeoutMs)) return;
      timer = setTimeout(() => {
        exchange.abort(
          new TransportError(
            "ERR_TIMEOUT",
            `No reply to ${method} within ${timeoutMs / 1000} s (--timeout)`,
          ),
        );
      }, timeoutMs);
    };
    if (isId(token)) progressing.set(token, arm);
    arm();
    return {
      send: {
        signal: exchange.signal,
        onAuthorizing(active: boolean) {
          authorizing += active ? 1 : -1;
          arm();
        },
      },
      stop() {
        clearTimeout(timer);
        if (isId(token)) progressing.delete(token);
      },
    };
  };

  const pending = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };
  const stop = readLines(
    options.input,
    (line) => {
      if (line.trim() === "") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        write({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
        return;
      }
      // Batches (2025-03-26) go out one message at a time, as later revisions want.
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        if (!isObject(message) || message.jsonrpc !== "2.0") {
          write({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request" } });
          continue;
        }
        track(forward(message as unknown as JsonRpcMessage));
      }
    },
    {
      maxBytes: options.maxMessageBytes ?? 16 * 1024 * 1024,
      onTooLong: (bytes) => log(`dropped a message of ${bytes} bytes: too large`),
    },
  );
  await new Promise<void>((resolve) => {
    options.input.once("end", resolve);
    options.input.once("close", resolve);
    void ended.then(resolve);
  });
  stop();
  await Promise.allSettled([...pending]);
  await transport.close();
}
