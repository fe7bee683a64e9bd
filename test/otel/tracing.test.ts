/**
 * One trace from McpClient through a Portcullis server, with the real OpenTelemetry SDK: the
 * client's span is the parent of the server's, in both eras over HTTP and over an in-memory
 * channel (where only `_meta` carries the context), and every attribute the MCP semantic
 * conventions name is checked one by one.
 */

import { PassThrough } from "node:stream";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { inMemoryTransport, McpClient } from "../../src/client/index.ts";
import { ErrorCode, McpError, McpServer, mcpApp } from "../../src/index.ts";
import { serveStdio } from "../../src/node/index.ts";
import { instrumentClient, instrumentServer } from "../../src/otel/index.ts";
import { listen, post } from "../helpers/http.ts";
import { registerSdk } from "./support.ts";

const telemetry = registerSdk();
const tracer = trace.getTracer("test-agent");

interface Carried {
  method: string;
  meta: string | undefined;
  header: string | undefined;
}

function server(): { mcp: McpServer; carried: Carried[] } {
  const carried: Carried[] = [];
  const mcp = new McpServer({ name: "traced", version: "1.0.0" });
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
  mcp.tool("fails", {}, () => {
    throw new McpError(ErrorCode.InvalidParams, "No such thing");
  });
  mcp.tool("reports", {}, () => ({ content: [{ type: "text", text: "bad" }], isError: true }));
  mcp.prompt("greet", {}, () => [{ role: "user", content: "hi" }]);
  mcp.resource("notes://one", {}, () => ({ text: "one" }));
  instrumentServer(mcp);
  // What reached the server, for the tests to see both carriers.
  mcp.use((ctx, next) => {
    const meta = ctx.meta?.traceparent;
    carried.push({
      method: ctx.method,
      meta: typeof meta === "string" ? meta : undefined,
      header: ctx.http?.req.header("traceparent"),
    });
    return next();
  });
  return { mcp, carried };
}

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});
beforeEach(() => telemetry.reset());

function client(protocolVersion?: string): McpClient {
  const made = new McpClient({
    name: "agent",
    version: "1.0.0",
    ...(protocolVersion && { protocolVersion }),
  });
  open.push(made);
  return instrumentClient(made);
}

/** Runs `work` inside an "agent" span, as an application would, and returns that span's id. */
async function inAgentSpan(work: () => Promise<unknown>): Promise<string> {
  return tracer.startActiveSpan("agent", async (span) => {
    try {
      await work();
    } finally {
      span.end();
    }
    return span.spanContext().spanId;
  });
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

const MODES = [
  { era: "2025 session", version: "2025-11-25", sessions: true },
  { era: "2026-07-28 stateless", version: "2026-07-28", sessions: false },
] as const;

describe.each(MODES)("a trace over HTTP, $era era", ({ version, sessions }) => {
  it("runs from the client's span through the server span to the tool handler span", async () => {
    const { mcp, carried } = server();
    const url = `${await listen(mcpApp(mcp, { sessions }))}/mcp`;
    const c = client(version);
    await c.connect(url);
    telemetry.reset();
    const agent = await inAgentSpan(() => c.callTool("echo", { text: "hi" }));

    const clientSpan = telemetry
      .spans()
      .find((span) => span.name === "tools/call echo" && span.kind === SpanKind.CLIENT)!;
    const serverSpan = telemetry
      .spans()
      .find((span) => span.name === "tools/call echo" && span.kind === SpanKind.SERVER)!;
    const handlerSpan = telemetry.span("execute_tool echo");
    const traceId = clientSpan.spanContext().traceId;
    expect(parentOf(clientSpan)).toBe(agent);
    expect(serverSpan.spanContext().traceId).toBe(traceId);
    expect(parentOf(serverSpan)).toBe(clientSpan.spanContext().spanId);
    expect(handlerSpan.spanContext().traceId).toBe(traceId);
    expect(parentOf(handlerSpan)).toBe(serverSpan.spanContext().spanId);
    expect(handlerSpan.kind).toBe(SpanKind.INTERNAL);

    // Both carriers arrived: `_meta.traceparent` (SEP-414) and the traceparent header.
    const call = carried.find((seen) => seen.method === "tools/call")!;
    const expected = `00-${traceId}-${clientSpan.spanContext().spanId}-01`;
    expect(call.meta).toBe(expected);
    expect(call.header).toBe(expected);

    // The server span's attributes, by their convention names.
    const s = serverSpan.attributes;
    expect(s["mcp.method.name"]).toBe("tools/call");
    expect(s["gen_ai.tool.name"]).toBe("echo");
    expect(s["gen_ai.operation.name"]).toBe("execute_tool");
    expect(s["jsonrpc.request.id"]).toBe(clientSpan.attributes["jsonrpc.request.id"]);
    expect(s["jsonrpc.request.id"]).toMatch(/^\d+$/);
    expect(s["mcp.protocol.version"]).toBe(version);
    expect(s["network.transport"]).toBe("tcp");
    expect(s["network.protocol.name"]).toBe("http");
    expect(s["client.address"]).toBe("127.0.0.1");
    expect(typeof s["client.port"]).toBe("number");
    expect(s["error.type"]).toBeUndefined();
    if (sessions) {
      expect(s["mcp.session.id"]).toBe(c.sessionId);
      expect(c.sessionId).toBeTruthy();
    } else {
      expect(s["mcp.session.id"]).toBeUndefined();
    }
    expect(serverSpan.status.code).toBe(SpanStatusCode.UNSET);

    // The client span's.
    const k = clientSpan.attributes;
    expect(k["mcp.method.name"]).toBe("tools/call");
    expect(k["gen_ai.tool.name"]).toBe("echo");
    expect(k["gen_ai.operation.name"]).toBe("execute_tool");
    expect(k["mcp.protocol.version"]).toBe(version);
    expect(k["server.address"]).toBe("127.0.0.1");
    expect(k["server.port"]).toBe(Number(new URL(url).port));
    expect(k["network.transport"]).toBe("tcp");
    if (sessions) expect(k["mcp.session.id"]).toBe(c.sessionId);

    expect(handlerSpan.attributes["gen_ai.tool.name"]).toBe("echo");
    expect(handlerSpan.attributes["gen_ai.operation.name"]).toBe("execute_tool");
  });

  it("names prompt and resource spans by the conventions and keeps URIs out of names", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp, { sessions }))}/mcp`;
    const c = client(version);
    await c.connect(url);
    telemetry.reset();
    await c.getPrompt("greet");
    await c.readResource("notes://one");

    const prompt = telemetry
      .spans()
      .find((span) => span.name === "prompts/get greet" && span.kind === SpanKind.SERVER)!;
    expect(prompt.attributes["gen_ai.prompt.name"]).toBe("greet");
    expect(prompt.attributes["gen_ai.operation.name"]).toBeUndefined();
    const read = telemetry
      .spans()
      .find((span) => span.name === "resources/read" && span.kind === SpanKind.SERVER)!;
    expect(read.attributes["mcp.resource.uri"]).toBe("notes://one");
  });

  it("marks failures with error.type: the JSON-RPC code, or tool_error", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp, { sessions }))}/mcp`;
    const c = client(version);
    await c.connect(url);
    telemetry.reset();
    await expect(c.callTool("fails", {})).rejects.toThrow("No such thing");
    const result = await c.callTool("reports", {});
    expect(result.isError).toBe(true);

    const failed = telemetry
      .spans()
      .find((span) => span.name === "tools/call fails" && span.kind === SpanKind.SERVER)!;
    expect(failed.attributes["error.type"]).toBe(String(ErrorCode.InvalidParams));
    expect(failed.attributes["rpc.response.status_code"]).toBe(String(ErrorCode.InvalidParams));
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: "No such thing" });
    const failedClient = telemetry
      .spans()
      .find((span) => span.name === "tools/call fails" && span.kind === SpanKind.CLIENT)!;
    expect(failedClient.attributes["error.type"]).toBe(String(ErrorCode.InvalidParams));

    const reported = telemetry
      .spans()
      .find((span) => span.name === "tools/call reports" && span.kind === SpanKind.SERVER)!;
    expect(reported.attributes["error.type"]).toBe("tool_error");
    expect(reported.status.code).toBe(SpanStatusCode.ERROR);
    expect(telemetry.span("execute_tool reports").attributes["error.type"]).toBe("tool_error");
  });
});

describe.each(["2025-11-25", "2026-07-28"])(
  "a trace over an in-memory channel (no headers: `_meta` only), %s",
  (version) => {
    it("continues the client's trace from `_meta`", async () => {
      const { mcp, carried } = server();
      const c = client(version);
      await c.connect(inMemoryTransport(mcp));
      telemetry.reset();
      await inAgentSpan(() => c.callTool("echo", { text: "hi" }));
      const clientSpan = telemetry
        .spans()
        .find((span) => span.name === "tools/call echo" && span.kind === SpanKind.CLIENT)!;
      const serverSpan = telemetry
        .spans()
        .find((span) => span.name === "tools/call echo" && span.kind === SpanKind.SERVER)!;
      expect(serverSpan.spanContext().traceId).toBe(clientSpan.spanContext().traceId);
      expect(parentOf(serverSpan)).toBe(clientSpan.spanContext().spanId);
      expect(carried.find((seen) => seen.method === "tools/call")?.header).toBeUndefined();
      expect(serverSpan.attributes["network.transport"]).toBeUndefined();
      expect(serverSpan.attributes["mcp.method.name"]).toBe("tools/call");
      expect(serverSpan.attributes["mcp.protocol.version"]).toBe(version);
    });
  },
);

describe("a trace over stdio (2025-11-25, `_meta` only)", () => {
  it("continues the trace in the request's `_meta.traceparent`", async () => {
    const { mcp } = server();
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const served = serveStdio(mcp, { stdin, stdout });
    let pending = "";
    stdout.setEncoding("utf8");
    const replied = new Promise<void>((resolve) => {
      stdout.on("data", (chunk: string) => {
        pending += chunk;
        for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
          if (JSON.parse(pending.slice(0, end)).id === 2) resolve();
          pending = pending.slice(end + 1);
        }
      });
    });
    const send = (value: unknown) => stdin.write(`${JSON.stringify(value)}\n`);
    telemetry.reset();
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "stdio", version: "1" },
      },
    });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const parent = "b7ad6b7169203331";
    send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: {
        name: "echo",
        arguments: { text: "hi" },
        _meta: { traceparent: `00-${traceId}-${parent}-01`, tracestate: "vendor=x" },
      },
    });
    await replied;
    served.close();
    const span = telemetry.span("tools/call echo");
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.spanContext().traceId).toBe(traceId);
    expect(parentOf(span)).toBe(parent);
    expect(span.spanContext().traceState?.get("vendor")).toBe("x");
    expect(span.attributes["mcp.protocol.version"]).toBe("2025-11-25");
    expect(span.attributes["jsonrpc.request.id"]).toBe("2");
    expect(span.attributes["network.transport"]).toBeUndefined();
    expect(parentOf(telemetry.span("execute_tool echo"))).toBe(span.spanContext().spanId);
  });
});

describe("trace context sent by other clients", () => {
  const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  const HEADER_SPAN = "00f067aa0ba902b7";
  const META_SPAN = "b7ad6b7169203331";
  const call = (meta?: Record<string, string>) => ({
    jsonrpc: "2.0",
    id: 7,
    method: "tools/call",
    params: {
      name: "echo",
      arguments: { text: "x" },
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
        "io.modelcontextprotocol/clientCapabilities": {},
        ...meta,
      },
    },
  });
  const headers = {
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "echo",
  };

  it("takes the traceparent header when `_meta` has none", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    telemetry.reset();
    const response = await post(url, call(), {
      ...headers,
      traceparent: `00-${TRACE}-${HEADER_SPAN}-01`,
    });
    expect(response.status).toBe(200);
    await response.text();
    const span = telemetry.span("tools/call echo");
    expect(span.spanContext().traceId).toBe(TRACE);
    expect(parentOf(span)).toBe(HEADER_SPAN);
    expect(span.attributes["jsonrpc.request.id"]).toBe("7");
    expect(span.links).toEqual([]);
  });

  it("prefers `_meta` and links the header's context when they differ", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    telemetry.reset();
    const response = await post(url, call({ traceparent: `00-${TRACE}-${META_SPAN}-01` }), {
      ...headers,
      traceparent: `00-${"a".repeat(32)}-${HEADER_SPAN}-01`,
    });
    await response.text();
    const span = telemetry.span("tools/call echo");
    expect(span.spanContext().traceId).toBe(TRACE);
    expect(parentOf(span)).toBe(META_SPAN);
    expect(span.links.map((link) => link.context.spanId)).toEqual([HEADER_SPAN]);
  });

  it("starts a new trace from a malformed traceparent, and answers as usual", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    telemetry.reset();
    const response = await post(url, call({ traceparent: "00-zz-not-a-trace" }), {
      ...headers,
      traceparent: "garbage",
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('"x"');
    const span = telemetry.span("tools/call echo");
    expect(parentOf(span)).toBeUndefined();
    expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("client-side failures", () => {
  it("record a Portcullis error's code as error.type (a timeout: ERR_TIMEOUT)", async () => {
    const { mcp } = server();
    mcp.tool("slow", {}, () => new Promise<string>(() => {}));
    const c = client();
    await c.connect(inMemoryTransport(mcp));
    telemetry.reset();
    await expect(c.callTool("slow", {}, { timeoutMs: 1 })).rejects.toThrow();
    const span = telemetry
      .spans()
      .find((s) => s.name === "tools/call slow" && s.kind === SpanKind.CLIENT)!;
    expect(span.attributes["error.type"]).toBe("ERR_TIMEOUT");
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe("requests the access rules refuse", () => {
  it("still get a span: the tracing middleware is outside them", async () => {
    const { mcp } = server();
    const c = client();
    await c.connect(inMemoryTransport(mcp));
    telemetry.reset();
    await expect(c.request("no/such/method", {})).rejects.toThrow();
    const span = telemetry
      .spans()
      .find((s) => s.name === "no/such/method" && s.kind === SpanKind.SERVER)!;
    expect(span.attributes["error.type"]).toBe(String(ErrorCode.MethodNotFound));
  });
});
