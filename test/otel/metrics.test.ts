/**
 * Metrics with the real SDK: the MCP operation-duration histograms (seconds, convention
 * attributes), rate-limit refusals, and the authorization server's spans and OAuth counters
 * (tokens by grant type, refresh rotation, refresh reuse, 429s) from a real flow over loopback.
 */
import { SpanKind } from "@opentelemetry/api";
import { DataPointType, type Histogram } from "@opentelemetry/sdk-metrics";
import { beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpClient } from "../../src/client/index.ts";
import { ErrorCode, McpError, McpServer, mcpApp, rateLimit } from "../../src/index.ts";
import {
  instrumentAuthorizationServer,
  instrumentClient,
  instrumentServer,
  RATE_LIMIT_METRIC,
} from "../../src/otel/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { eventually } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";
import { pointsWith, registerSdk } from "./support.ts";

const telemetry = registerSdk();
beforeEach(() => telemetry.reset());

describe("MCP operation durations", () => {
  it("records mcp.server.operation.duration and mcp.client.operation.duration in seconds", async () => {
    const mcp = new McpServer({ name: "measured", version: "1.0.0" });
    mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
    mcp.tool("fails", {}, () => {
      throw new McpError(ErrorCode.InvalidParams, "no");
    });
    instrumentServer(mcp);
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = instrumentClient(new McpClient({ name: "agent", version: "1.0.0" }));
    await client.connect(url);
    await client.callTool("echo", { text: "a" });
    await client.callTool("echo", { text: "b" });
    await expect(client.callTool("fails", {})).rejects.toThrow();
    await client.close();

    for (const name of ["mcp.server.operation.duration", "mcp.client.operation.duration"]) {
      const metric = await telemetry.metric(name);
      expect(metric?.descriptor.unit).toBe("s");
      expect(metric?.dataPointType).toBe(DataPointType.HISTOGRAM);
      const [echo] = pointsWith<Histogram>(metric, {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
      });
      expect(echo?.value.count).toBe(2);
      expect(echo?.value.sum).toBeGreaterThan(0);
      // Seconds, not milliseconds: two loopback calls take far less than a second each.
      expect(echo!.value.sum!).toBeLessThan(10);
      expect(echo?.attributes["mcp.protocol.version"]).toBe("2026-07-28");
      expect(echo?.attributes["gen_ai.operation.name"]).toBe("execute_tool");
      expect(echo?.attributes["network.transport"]).toBe("tcp");
      expect(echo?.attributes["error.type"]).toBeUndefined();
      // High-cardinality values stay off metrics.
      expect(echo?.attributes["jsonrpc.request.id"]).toBeUndefined();
      expect(echo?.attributes["mcp.session.id"]).toBeUndefined();
      const [failed] = pointsWith<Histogram>(metric, { "gen_ai.tool.name": "fails" });
      expect(failed?.attributes["error.type"]).toBe(String(ErrorCode.InvalidParams));
      expect(failed?.value.count).toBe(1);
    }
    const server = await telemetry.metric("mcp.server.operation.duration");
    expect(pointsWith(server, { "mcp.method.name": "server/discover" })).toHaveLength(1);
  });

  it("counts the rateLimit middleware's refusals as rate-limit refusals", async () => {
    const mcp = new McpServer({ name: "limited", version: "1.0.0" });
    mcp.tool("busy", {}, () => "done");
    instrumentServer(mcp);
    // An open endpoint, limited by a fixed key: one tools/call of "busy" per hour.
    mcp.use(
      rateLimit({
        store: memoryStore(),
        perTool: { busy: { limit: 1, windowSeconds: 3600 } },
        key: () => "everyone",
      }),
    );
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = new McpClient({ name: "agent", version: "1.0.0" });
    await client.connect(url);
    await client.callTool("busy", {});
    await expect(client.callTool("busy", {})).rejects.toMatchObject({
      code: ErrorCode.RateLimited,
      data: { retryAfterSeconds: expect.any(Number), scope: "tool", tool: "busy" },
    });
    await client.close();
    const refusals = await telemetry.metric(RATE_LIMIT_METRIC);
    const points = pointsWith<number>(refusals, {
      "portcullis.rate_limit.scope": "mcp",
      "mcp.method.name": "tools/call",
    });
    expect(points.map((point) => point.value)).toEqual([1]);
    expect(points[0]?.attributes["gen_ai.tool.name"]).toBe("busy");
    expect(refusals?.descriptor.unit).toBe("{request}");
  });
});

describe("transport gauges", () => {
  const gauge = async (name: string) => {
    const metric = await telemetry.metric(name);
    return (metric?.dataPoints[0]?.value as number | undefined) ?? 0;
  };
  const read = async () => ({
    sessions: await gauge("portcullis.mcp.sessions.active"),
    connections: await gauge("portcullis.mcp.sse.connections.active"),
  });

  it("report the sessions and SSE connections held open, and their end", async () => {
    const mcp = new McpServer({ name: "sessions", version: "1.0.0" });
    instrumentServer(mcp);
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const before = await read();
    const clients = [1, 2].map(
      () => new McpClient({ name: "agent", version: "1.0.0", protocolVersion: "2025-11-25" }),
    );
    // Each opens a session and its GET stream (asked for: it opens only when needed otherwise).
    for (const client of clients) await client.connect(url, { listen: true });
    const open = await eventually(read, (now) => now.connections === before.connections + 2);
    expect(open.sessions).toBe(before.sessions + 2);
    for (const client of clients) await client.close();
    const closed = await eventually(read, (now) => now.connections === before.connections);
    expect(closed.sessions).toBe(before.sessions);
    const metric = await telemetry.metric("portcullis.mcp.sessions.active");
    expect(metric?.descriptor.unit).toBe("{session}");
  });
});

describe("the authorization server", () => {
  it("traces its endpoints and counts tokens, rotations, reuse and rate-limit refusals", async () => {
    const as = authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      rateLimits: { token: { limit: 5, windowSeconds: 3600 } },
    });
    instrumentAuthorizationServer(as);
    const mcp = new McpServer({ name: "protected", version: "1.0.0" });
    const base = await listen(mcpApp(mcp, { auth: as }));
    const authorized = await authorizeWithDevLogin(base);
    const token = async (values: Record<string, string>) => {
      const response = await fetch(
        `${base}/token`,
        form({ client_id: authorized.clientId, ...values }),
      );
      return { status: response.status, body: (await response.json()) as Record<string, string> };
    };
    const first = await token({
      grant_type: "authorization_code",
      code: authorized.code,
      code_verifier: authorized.verifier,
      redirect_uri: authorized.redirectUri,
    });
    expect(first.status).toBe(200);
    const second = await token({
      grant_type: "refresh_token",
      refresh_token: first.body.refresh_token!,
    });
    expect(second.status).toBe(200);
    const third = await token({
      grant_type: "refresh_token",
      refresh_token: second.body.refresh_token!,
    });
    expect(third.status).toBe(200);
    // The first refresh token again, after its successor was used: reuse, the grant is revoked.
    const reused = await token({
      grant_type: "refresh_token",
      refresh_token: first.body.refresh_token!,
    });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe("invalid_grant");
    // The fifth request used up the limit; the sixth is refused.
    const refused = await token({ grant_type: "refresh_token", refresh_token: "x" });
    const limited = await token({ grant_type: "refresh_token", refresh_token: "x" });
    expect(refused.status).toBe(400);
    expect(limited.status).toBe(429);
    // A made-up grant type is refused as usual, and kept out of the attributes as "_OTHER".
    const made = await fetch(`${base}/token`, form({ grant_type: "x".repeat(40) }));
    expect(made.status).toBe(429);
    await made.text();

    const spans = telemetry.spans().filter((span) => span.name === "POST /token");
    expect(spans).toHaveLength(7);
    expect(spans[6]!.attributes["oauth.grant_type"]).toBe("_OTHER");
    spans.pop();
    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.SERVER);
      expect(span.attributes["http.request.method"]).toBe("POST");
      expect(span.attributes["http.route"]).toBe("/token");
    }
    expect(spans.map((span) => span.attributes["http.response.status_code"])).toEqual([
      200, 200, 200, 400, 400, 429,
    ]);
    expect(spans.map((span) => span.attributes["oauth.grant_type"])).toEqual([
      "authorization_code",
      "refresh_token",
      "refresh_token",
      "refresh_token",
      "refresh_token",
      "refresh_token",
    ]);
    expect(spans[3]!.attributes["error.type"]).toBe("invalid_grant");
    expect(spans[5]!.attributes["error.type"]).toBe("temporarily_unavailable");
    const names = new Set(telemetry.spans().map((span) => span.name));
    for (const name of ["POST /register", "GET /authorize", "POST /consent"]) {
      expect(names.has(name), name).toBe(true);
    }
    expect([...names].some((name) => name.startsWith("POST /login"))).toBe(true);
    // The MCP endpoint mounted beside it is not one of the authorization server's endpoints.
    const mcpCall = await fetch(`${base}/mcp`, { method: "POST", body: "{}" });
    expect(mcpCall.status).toBe(401);
    expect(telemetry.spans().filter((span) => span.name.includes("/mcp"))).toEqual([]);

    const issued = await telemetry.metric("portcullis.oauth.tokens.issued");
    expect(pointsWith<number>(issued, { "oauth.grant_type": "authorization_code" })[0]?.value).toBe(
      1,
    );
    expect(pointsWith<number>(issued, { "oauth.grant_type": "refresh_token" })[0]?.value).toBe(2);
    const rotations = await telemetry.metric("portcullis.oauth.refresh.rotations");
    expect(rotations?.dataPoints[0]?.value).toBe(2);
    const reuse = await telemetry.metric("portcullis.oauth.refresh.reuse_detected");
    expect(reuse?.dataPoints[0]?.value).toBe(1);
    const refusals = await telemetry.metric(RATE_LIMIT_METRIC);
    const [point] = pointsWith<number>(refusals, {
      "portcullis.rate_limit.scope": "oauth",
      "http.route": "/token",
    });
    expect(point?.value).toBe(2);
    const durations = await telemetry.metric("http.server.request.duration");
    expect(durations?.descriptor.unit).toBe("s");
    expect(
      pointsWith<Histogram>(durations, {
        "http.route": "/token",
        "http.response.status_code": 200,
        "oauth.grant_type": "refresh_token",
      })[0]?.value.count,
    ).toBe(2);
  });
});
