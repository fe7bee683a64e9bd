/**
 * HTTP upstreams: the everything server in its Streamable HTTP mode behind the gateway, reached
 * by our client and by the official SDK client; a recording upstream shows what reaches an
 * upstream (never the caller's token; the subject only as configured), and per-user isolation.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../../src/gateway/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { deferred, until } from "../helpers/async.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import { accessToken, everythingOverHttp, signedIn, startGateway } from "./support.ts";

const clock = manualClock();
let base: string;
let gw: Gateway;
/** Every request the recording upstream received, with its headers. */
const seen: { authorization: string | null; subject: string | null }[] = [];

/** A call the test holds open on an upstream until it lets go. */
function holder() {
  const held = deferred<void>();
  return { held, holding: false };
}
const holds = { current: holder(), old: holder() };

/**
 * An open MCP server that answers with the headers the gateway sent it. `old` speaks only the
 * 2025 revisions: its questions come as server-to-client requests that name no call.
 */
function recordingUpstream(old = false) {
  const hold = old ? holds.old : holds.current;
  const mcp = new McpServer({
    name: "recorder",
    version: "1.0.0",
    ...(old && { protocolVersions: ["2025-11-25"] as const }),
  });
  mcp.tool("whoami", { description: "Who the upstream thinks is calling" }, (_args, ctx) => {
    const header = (name: string) => ctx.c?.req.header(name) ?? null;
    const entry = {
      authorization: header("authorization"),
      subject: header("x-subject"),
    };
    seen.push(entry);
    return entry;
  });
  mcp.tool("hold", { description: "Waits until the test lets go" }, async () => {
    hold.holding = true;
    await hold.held.promise;
    return "released";
  });
  mcp.tool("ask", { description: "Asks the caller for a name" }, async (_args, ctx) => {
    const answer = await ctx.elicit({ message: "Your name?", schema: { type: "object" } });
    return JSON.stringify(answer);
  });
  return mcpApp(mcp, old ? { sessions: true } : {});
}

beforeAll(async () => {
  const recorder = await listen(recordingUpstream());
  const oldRecorder = await listen(recordingUpstream(true));
  ({ base, gw } = await startGateway({
    clock: clock.now,
    upstreams: [
      { name: "remote", url: await everythingOverHttp() },
      {
        name: "rec",
        url: `${recorder}/mcp`,
        isolation: "per-user",
        identityHeader: "x-subject",
        idleMs: 60_000,
        maxInstances: 2,
      },
      { name: "shared", url: `${recorder}/mcp` },
      { name: "old", url: `${oldRecorder}/mcp` },
    ],
  }));
}, 60_000);

const texts = (result: { content: unknown[] }) =>
  result.content.map((block) => (block as { text?: string }).text ?? "").join("\n");

describe("the gateway in front of HTTP servers", () => {
  it("forwards our client's calls to the everything server over HTTP, with progress", async () => {
    const { client } = await signedIn(base);
    const echoed = await client.callTool("remote_echo", { message: "over http" });
    expect(texts(echoed)).toContain("over http");
    const progress: number[] = [];
    const done = await client.callTool(
      "remote_trigger-long-running-operation",
      { duration: 0.03, steps: 3 },
      { onProgress: (update) => progress.push(update.progress) },
    );
    expect(texts(done)).toContain("completed");
    expect(progress).toEqual([1, 2, 3]);
  });

  it("serves the official SDK client with a bearer token", async () => {
    const token = await accessToken(base, "");
    const client = new Client({ name: "sdk-v1", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain("remote_get-sum");
      const sum = await client.callTool({ name: "remote_get-sum", arguments: { a: 20, b: 22 } });
      expect(JSON.stringify(sum.content)).toContain("42");
    } finally {
      await client.close();
    }
  });

  it("refuses a caller without a token with 401 and a resource metadata pointer", async () => {
    const response = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("resource_metadata=");
  });

  it("never passes the caller's token upstream; sends the subject as configured", async () => {
    seen.length = 0;
    const alice = (await signedIn(base, { user: "alice" })).client;
    const bob = (await signedIn(base, { user: "bob" })).client;
    const first = JSON.parse(texts(await alice.callTool("rec_whoami", {})));
    const second = JSON.parse(texts(await bob.callTool("rec_whoami", {})));
    expect(seen).toHaveLength(2);
    for (const entry of seen) expect(entry.authorization).toBeNull();
    expect(first).toMatchObject({ subject: "alice" });
    expect(second).toMatchObject({ subject: "bob" });
    // One upstream connection per user.
    expect(gw.status().find((s) => s.name === "rec")?.instances).toBe(2);
  });

  it("caps per-user connections, and closes idle ones on the injected clock", async () => {
    const carol = (await signedIn(base, { user: "carol" })).client;
    // alice and bob hold the two places, and are not idle yet.
    const refused = await carol.callTool("rec_whoami", {}).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: -32000 });
    expect(String((refused as Error).message)).toContain("no room");

    clock.advance(61_000);
    const admitted = await carol.callTool("rec_whoami", {});
    expect(JSON.parse(texts(admitted))).toMatchObject({ subject: "carol" });
    expect(gw.status().find((s) => s.name === "rec")?.instances).toBe(1);
  });

  it("refuses a 2025 upstream's question it cannot tie to one caller on a shared connection", async () => {
    const asked: string[] = [];
    const alice = (await signedIn(base, { user: "alice" })).client;
    const bob = (
      await signedIn(base, {
        user: "bob",
        handlers: {
          elicitation: (request) => {
            asked.push(request.message);
            return { action: "accept", content: {} };
          },
        },
      })
    ).client;
    const hold = alice.callTool("old_hold", {});
    await until(() => holds.old.holding);
    // Alice's call is in flight on the shared connection: Bob's question could reach either.
    const refused = await bob.callTool("old_ask", {}).catch((error: unknown) => error);
    expect(asked).toEqual([]);
    const outcome = refused instanceof Error ? refused.message : texts(refused as never);
    expect(outcome).not.toContain("accept");
    holds.old.held.resolve();
    expect(texts(await hold)).toContain("released");
    // Alone on the connection, the question reaches Bob.
    expect(texts(await bob.callTool("old_ask", {}))).toContain("accept");
    expect(asked).toEqual(["Your name?"]);
  });

  it("ties a 2026-07-28 upstream's question to its own call, whatever else is in flight", async () => {
    const asked: string[] = [];
    const alice = (
      await signedIn(base, {
        user: "alice",
        handlers: {
          elicitation: () => {
            asked.push("alice");
            return { action: "decline" };
          },
        },
      })
    ).client;
    const bob = (
      await signedIn(base, {
        user: "bob",
        handlers: {
          elicitation: (request) => {
            asked.push(`bob: ${request.message}`);
            return { action: "accept", content: { name: "Bob" } };
          },
        },
      })
    ).client;
    const hold = alice.callTool("shared_hold", {});
    await until(() => holds.current.holding);
    // The question comes in the result of Bob's own call: it reaches Bob, never Alice.
    expect(texts(await bob.callTool("shared_ask", {}))).toContain("Bob");
    expect(asked).toEqual(["bob: Your name?"]);
    holds.current.held.resolve();
    expect(texts(await hold)).toContain("released");
  });

  it("tells a caller without the capability an upstream question needs: -32021", async () => {
    // No handlers: the client declares no elicitation.
    const { client } = await signedIn(base, { user: "carol" });
    const refused = await client.callTool("shared_ask", {}).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: -32021 });
  });
});
