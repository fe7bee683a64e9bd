/**
 * A server's stdio or in-memory channel driven with raw JSON-RPC lines, for the tests of
 * 2026-07-28 on channels and of middleware there.
 */
import { PassThrough } from "node:stream";
import { inMemoryTransport } from "../../src/client/memory.ts";
import type { McpServer } from "../../src/index.ts";
import { serveStdio } from "../../src/node/index.ts";
import { until } from "../helpers/async.ts";
import { modernMeta } from "../http/modern-support.ts";

type Json = Record<string, unknown>;

export interface Channel {
  send(message: Json): void;
  received: Json[];
  close(): void;
}

const open: Channel[] = [];

/** Closes the channels a test opened (for afterEach). */
export function closeChannels(): void {
  for (const channel of open.splice(0)) channel.close();
}

export async function memoryChannel(mcp: McpServer): Promise<Channel> {
  const transport = inMemoryTransport(mcp);
  const received: Json[] = [];
  await transport.start({
    message: (value) => void received.push(value as Json),
    lost: () => {},
    closed: () => {},
  });
  const channel = {
    send: (message: Json) => void transport.send(message as never),
    received,
    close: () => void transport.close(),
  };
  open.push(channel);
  return channel;
}

export function stdioChannel(mcp: McpServer): Channel {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const served = serveStdio(mcp, { stdin, stdout });
  const received: Json[] = [];
  let pending = "";
  stdout.setEncoding("utf8");
  stdout.on("data", (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
      received.push(JSON.parse(pending.slice(0, end)));
      pending = pending.slice(end + 1);
    }
  });
  const channel = {
    send: (message: Json) => void stdin.write(`${JSON.stringify(message)}\n`),
    received,
    close: () => served.close(),
  };
  open.push(channel);
  return channel;
}

export function request(
  id: number,
  method: string,
  params: Json = {},
  capabilities: Json = {},
): Json {
  return { jsonrpc: "2.0", id, method, params: { ...params, _meta: modernMeta(capabilities) } };
}

export async function reply(channel: Channel, id: number): Promise<Json> {
  await until(() => channel.received.some((message) => message.id === id));
  return channel.received.find((message) => message.id === id)!;
}

export const channels = { "in memory": memoryChannel, stdio: stdioChannel };
