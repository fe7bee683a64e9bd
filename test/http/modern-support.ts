/**
 * Shared pieces of the 2026-07-28 transport tests: requests with the per-request `_meta`
 * envelope and the mirrored headers the revision requires, and a driver for multi
 * round-trip requests. Everything goes over real HTTP on loopback.
 */
import { expect } from "vitest";
import { type McpAppOptions, type McpServer, mcpApp } from "../../src/index.ts";
import { listen } from "../helpers/http.ts";
import { type Json, MCP_HEADERS, messagesOf } from "./support.ts";

export const VERSION = "2026-07-28";

export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;

export interface ModernOptions {
  /** The client capabilities declared in `_meta`. Default `{}`. */
  capabilities?: Json;
  /** More `_meta` entries (log level, progress token). */
  meta?: Json;
  /** Header overrides; `undefined` removes a header. */
  headers?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

/** The `_meta` envelope every 2026-07-28 request carries. */
export function modernMeta(capabilities: Json = {}, extra: Json = {}): Json {
  return {
    [META.protocolVersion]: VERSION,
    [META.clientCapabilities]: capabilities,
    [META.clientInfo]: { name: "modern-suite", version: "1.0.0" },
    ...extra,
  };
}

/** A 2026-07-28 request body. */
export function modernRequest(
  id: string | number,
  method: string,
  params: Json = {},
  options: ModernOptions = {},
): Json {
  return {
    jsonrpc: "2.0",
    id,
    method,
    params: { ...params, _meta: modernMeta(options.capabilities, options.meta) },
  };
}

/** The headers a 2026-07-28 request carries: version, method and, where required, name. */
export function modernHeaders(
  method: string,
  params: Json = {},
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const name = method === "resources/read" ? params.uri : params.name;
  const all: Record<string, string | undefined> = {
    ...MCP_HEADERS,
    "mcp-protocol-version": VERSION,
    "mcp-method": method,
    ...(typeof name === "string" ? { "mcp-name": name } : {}),
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** POSTs one 2026-07-28 request and returns the raw response (to stream it). */
export function modernPost(
  url: string,
  id: string | number,
  method: string,
  params: Json = {},
  options: ModernOptions = {},
): Promise<Response> {
  const init: RequestInit = {
    method: "POST",
    headers: modernHeaders(method, params, options.headers),
    body: JSON.stringify(modernRequest(id, method, params, options)),
  };
  if (options.signal) init.signal = options.signal;
  return fetch(url, init);
}

export interface Reply {
  status: number;
  contentType: string | null;
  /** Every message of the reply, notifications first. */
  messages: Json[];
  /** The last message: the JSON-RPC response. */
  response: Json;
}

/** Sends one 2026-07-28 request and reads its whole reply. */
export async function modernCall(
  url: string,
  id: string | number,
  method: string,
  params: Json = {},
  options: ModernOptions = {},
): Promise<Reply> {
  const response = await modernPost(url, id, method, params, options);
  const contentType = response.headers.get("content-type");
  const messages = (await messagesOf(response)) as Json[];
  return { status: response.status, contentType, messages, response: messages.at(-1) ?? {} };
}

/** The result of a reply; fails the test with the error otherwise. */
export function resultOf(reply: Reply): Json {
  expect(reply.response.error, JSON.stringify(reply.response.error)?.slice(0, 500)).toBeUndefined();
  return reply.response.result as Json;
}

/** The error of a reply; fails the test on a success. */
export function errorOf(reply: Reply): { code: number; message: string; data?: unknown } {
  expect(
    reply.response.result,
    JSON.stringify(reply.response.result)?.slice(0, 500),
  ).toBeUndefined();
  return reply.response.error as { code: number; message: string; data?: unknown };
}

export interface InputRound {
  requestState: string;
  inputRequests: Record<string, { method: string; params: Json }>;
}

/** The InputRequiredResult of a reply; fails the test on anything else. */
export function inputRequired(reply: Reply): InputRound {
  const result = resultOf(reply);
  expect(result.resultType).toBe("input_required");
  expect(typeof result.requestState).toBe("string");
  return result as unknown as InputRound;
}

let nextId = 1000;

/**
 * Runs a multi round-trip request to the end: each InputRequiredResult is answered by
 * `answer` and the request retried (new id, same params, the state echoed). Returns the
 * rounds seen and the final reply.
 */
export async function runRounds(
  url: string,
  method: string,
  params: Json,
  answer: (requests: InputRound["inputRequests"]) => Json,
  options: ModernOptions = {},
  maxRounds = 5,
): Promise<{ rounds: InputRound[]; final: Reply }> {
  const rounds: InputRound[] = [];
  let retry: Json = {};
  for (let round = 0; round <= maxRounds; round++) {
    const reply = await modernCall(url, nextId++, method, { ...params, ...retry }, options);
    const result = reply.response.result as Json | undefined;
    if (result?.resultType !== "input_required") return { rounds, final: reply };
    const current = result as unknown as InputRound;
    rounds.push(current);
    retry = {
      inputResponses: answer(current.inputRequests),
      requestState: current.requestState,
    };
  }
  throw new Error(`still asking for input after ${maxRounds} rounds`);
}

/**
 * Serves `mcp` behind bearer-token protection where the token is the caller's subject
 * ("Bearer alice" is alice), so tests can act as different authenticated callers.
 */
export async function startProtected(
  mcp: McpServer,
  options: Omit<McpAppOptions, "auth"> = {},
): Promise<string> {
  const app = mcpApp(mcp, {
    ...options,
    auth: {
      issuer: "https://issuer.invalid",
      verify: async (token: string) => ({
        kind: "user" as const,
        subject: token,
        clientId: `client-of-${token}`,
        scopes: [],
      }),
    },
  });
  return `${await listen(app)}/mcp`;
}

/** The Authorization header of a caller of a `startProtected` endpoint. */
export const as = (subject: string) => ({ authorization: `Bearer ${subject}` });
