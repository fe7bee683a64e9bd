import type {
  Exchange,
  JsonObject,
  JsonRpcNotification,
  JsonRpcResponse,
  McpServer,
} from "../../src/index.ts";
import { Peer } from "../../src/index.ts";

/** An Exchange as a transport builds one, recording what the server sends back. */
export interface RecordingExchange extends Exchange {
  readonly notifications: JsonRpcNotification[];
}

export function exchange(peer: Peer = new Peer("2025-11-25")): RecordingExchange {
  const notifications: JsonRpcNotification[] = [];
  return {
    peer,
    notifications,
    notify: (message) => notifications.push(message),
    request: (method) => Promise.reject(new Error(`no client to answer ${method}`)),
  };
}

let nextId = 1;

/** Dispatches one request to the server. */
export function call(
  server: McpServer,
  method: string,
  params?: JsonObject,
  via: Exchange = exchange(),
): Promise<JsonRpcResponse | undefined> {
  const id = nextId++;
  return server.dispatch(
    params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params },
    via,
  );
}

/** The result of a successful response; fails the test on an error response. */
export async function result(
  server: McpServer,
  method: string,
  params?: JsonObject,
  via?: Exchange,
): Promise<JsonObject> {
  const response = await call(server, method, params, via);
  if (!response) throw new Error(`${method} got no response`);
  if (!("result" in response)) {
    throw new Error(`${method} failed: ${JSON.stringify(response.error)}`);
  }
  return response.result;
}

/** The error of a failed response; fails the test on a success. */
export async function error(
  server: McpServer,
  method: string,
  params?: JsonObject,
  via?: Exchange,
): Promise<{ code: number; message: string; data?: unknown }> {
  const response = await call(server, method, params, via);
  if (!response) throw new Error(`${method} got no response`);
  if (!("error" in response)) {
    throw new Error(`${method} succeeded: ${JSON.stringify(response.result)}`);
  }
  return response.error;
}

/** Lets queued microtasks run (list_changed is sent after the current burst of changes). */
export function microtask(): Promise<void> {
  return new Promise((resolve) => queueMicrotask(resolve));
}
