import type { Context, MiddlewareHandler } from "hono";
import { type LogFields, type Logger, logs } from "../util/log.ts";

/** Bodies larger than this are not read again for the request line. */
const PEEK_LIMIT = 64 * 1024;

/** The JSON-RPC methods and tool names in a body, for the request line. */
function rpcFields(text: string): LogFields {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  const methods: string[] = [];
  const tools: string[] = [];
  for (const message of Array.isArray(body) ? body : [body]) {
    const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
    if (typeof method !== "string") continue;
    methods.push(method);
    if (method === "tools/call" && typeof params?.name === "string") tools.push(params.name);
  }
  const fields: LogFields = {};
  if (methods.length) fields.rpc_method = methods.join(",");
  if (tools.length) fields.tool = tools.join(",");
  return fields;
}

/** A copy of a small JSON POST body to read after the handler, when the line will be written. */
// Return type inferred: Workers' Request is generic over its cf properties.
function peekable(c: Context) {
  const length = Number(c.req.header("content-length"));
  if (c.req.method !== "POST" || !(length > 0 && length <= PEEK_LIMIT)) return undefined;
  return c.req.header("content-type")?.includes("json") ? c.req.raw.clone() : undefined;
}

/**
 * Logs each request at debug: method, path, status, duration in milliseconds, and with `rpc`
 * the JSON-RPC method and tool name. Costs nothing when the logger drops debug lines.
 */
export function requestLogger(logger: Logger, options: { rpc?: boolean } = {}): MiddlewareHandler {
  const logged: MiddlewareHandler = async (c, next) => {
    const started = performance.now();
    const copy = options.rpc ? peekable(c) : undefined;
    await next();
    const fields: LogFields = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round(performance.now() - started),
    };
    const id = c.get("requestId");
    if (id) fields.request_id = id;
    if (copy) Object.assign(fields, rpcFields(await copy.text().catch(() => "")));
    logger.debug("request", fields);
  };
  // Not an async function itself: with debug off it adds nothing to the request's path.
  return (c, next) => (logs(logger, "debug") ? logged(c, next) : next());
}
