/**
 * Finding the server's era: the server/discover probe, the fall back to initialize, versions
 * forced by the caller, and the era remembered per origin in the ClientStateStore.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type McpClient,
  McpError,
  memoryClientState,
  ProtocolVersionError,
} from "../../src/client/index.ts";
import { McpServer } from "../../src/index.ts";
import {
  bodyOf,
  client,
  discoverResult,
  fakeServer,
  type Json,
  methodsOf,
  recordingFetch,
  richServer,
  serve,
} from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const META_VERSION = "io.modelcontextprotocol/protocolVersion";
const META_INFO = "io.modelcontextprotocol/clientInfo";
const META_CAPS = "io.modelcontextprotocol/clientCapabilities";

async function connect(url: string, options: Parameters<typeof client>[0] = {}) {
  const recorder = recordingFetch();
  const made = client(options);
  await made.client.connect(url, { fetch: recorder.fetch });
  open.push(made.client);
  return { ...made, calls: recorder.calls };
}

describe("a server that speaks 2026-07-28", () => {
  it("is found with server/discover and spoken to without initialize, session or GET", async () => {
    const { mcp } = richServer();
    const url = await serve(mcp, { sessions: true });
    const { client: c, calls, warnings } = await connect(url);
    expect(c.protocolVersion).toBe("2026-07-28");
    expect(c.serverInfo).toEqual({ name: "rich", version: "2.0.0" });
    expect(c.instructions).toBe("Be brief.");
    expect(c.serverCapabilities).toMatchObject({ tools: { listChanged: true }, prompts: {} });
    expect(c.sessionId).toBeUndefined();

    const probe = calls[0]!;
    expect(probe.method).toBe("POST");
    expect(bodyOf(probe)).toMatchObject({
      method: "server/discover",
      params: {
        _meta: {
          [META_VERSION]: "2026-07-28",
          [META_INFO]: { name: "test-client", version: "1.0.0" },
          [META_CAPS]: {},
        },
      },
    });
    expect(probe.headers.get("mcp-protocol-version")).toBe("2026-07-28");
    expect(probe.headers.get("mcp-method")).toBe("server/discover");

    await c.callTool("echo", { text: "hi" });
    await c.close();
    expect(methodsOf(calls)).toEqual(["server/discover", "tools/call"]);
    expect(calls.map((call) => call.method)).toEqual(["POST", "POST"]);
    for (const call of calls) expect(call.headers.has("mcp-session-id")).toBe(false);
    expect(warnings).toEqual([]);
  });

  it("puts the _meta envelope and the metadata headers on every request", async () => {
    const { mcp } = richServer();
    const { client: c, calls } = await connect(await serve(mcp), {
      handlers: { elicitation: () => ({ action: "decline" }) },
    });
    await c.listTools();
    await c.callTool("echo", { text: "hi" });
    await c.readResource("notes://readme");
    await c.getPrompt("greet", { name: "Ada" });
    const [, list, call, read, prompt] = calls;
    for (const sent of [list, call, read, prompt]) {
      expect(sent!.headers.get("mcp-protocol-version")).toBe("2026-07-28");
      expect((bodyOf(sent!).params as Json)._meta).toEqual({
        [META_VERSION]: "2026-07-28",
        [META_INFO]: { name: "test-client", version: "1.0.0" },
        [META_CAPS]: { elicitation: { form: {} } },
      });
    }
    expect([list, call, read, prompt].map((sent) => sent!.headers.get("mcp-method"))).toEqual([
      "tools/list",
      "tools/call",
      "resources/read",
      "prompts/get",
    ]);
    expect([list, call, read, prompt].map((sent) => sent!.headers.get("mcp-name"))).toEqual([
      null,
      "echo",
      "notes://readme",
      "greet",
    ]);
  });

  it("carries names that are not plain ASCII, or look encoded, in the base64 form", async () => {
    const mcp = new McpServer({ name: "names", version: "1" });
    // Tool names are plain ASCII by the MCP rule (checked at registration); prompt names and
    // resource URIs are not.
    mcp.prompt("café", {}, () => "coffee");
    mcp.prompt("=?base64?abc?=", {}, () => "tricky");
    mcp.resource("notes://naïve note", { name: "naive" }, () => "innocent");
    const { client: c, calls } = await connect(await serve(mcp));
    // The server checks each header against the body: a wrong one would fail the request.
    const said = async (name: string) => (await c.getPrompt(name)).messages[0]?.content;
    expect(await said("café")).toEqual({ type: "text", text: "coffee" });
    expect(await said("=?base64?abc?=")).toEqual({ type: "text", text: "tricky" });
    expect((await c.readResource("notes://naïve note")).contents[0]).toMatchObject({
      text: "innocent",
    });
    const names = calls.slice(1).map((call) => call.headers.get("mcp-name"));
    const encoded = (text: string) => `=?base64?${Buffer.from(text, "utf8").toString("base64")}?=`;
    expect(names).toEqual([
      encoded("café"),
      encoded("=?base64?abc?="),
      encoded("notes://naïve note"),
    ]);
  });

  it("pings with server/discover, 2026-07-28 having no ping", async () => {
    const { mcp } = richServer();
    const { client: c, calls } = await connect(await serve(mcp));
    await expect(c.ping()).resolves.toBeUndefined();
    expect(methodsOf(calls)).toEqual(["server/discover", "server/discover"]);
  });

  it("speaks it with a server that offers nothing else, told to or not", async () => {
    const { mcp } = richServer({ protocolVersions: ["2026-07-28"] });
    const url = await serve(mcp);
    for (const protocolVersion of ["auto", "2026-07-28"]) {
      const { client: c, calls } = await connect(url, { protocolVersion });
      expect(c.protocolVersion).toBe("2026-07-28");
      expect((await c.callTool("echo", { text: protocolVersion })).content).toEqual([
        { type: "text", text: `echo: ${protocolVersion}` },
      ]);
      expect(methodsOf(calls)).toEqual(["server/discover", "tools/call"]);
    }
  });

  it("a modern error other than an unsupported version is thrown, not taken for 2025", async () => {
    const fake = await fakeServer((request) =>
      request.method === "server/discover"
        ? Response.json(
            {
              jsonrpc: "2.0",
              id: request.message.id,
              error: { code: -32020, message: "Header mismatch: test" },
            },
            { status: 400 },
          )
        : undefined,
    );
    const { client: c } = client();
    const error = await c.connect(fake.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: -32020 });
    expect(fake.requests.map((request) => request.method)).toEqual(["server/discover"]);
  });

  it("strict: every rule holds against our server", async () => {
    const { mcp } = richServer();
    const { client: c, warnings } = await connect(await serve(mcp), {
      strict: true,
      onToolsChanged: () => undefined,
    });
    await c.listTools();
    expect((await c.callTool("add", { a: 1, b: 2 })).structuredContent).toEqual({ sum: 3 });
    await c.subscribe("notes://readme");
    expect(warnings).toEqual([]);
  });

  it("strict headers: a reply labelled with another revision is refused", async () => {
    const mislabelled = () =>
      fakeServer((request) =>
        request.method === "server/discover"
          ? Response.json(
              { jsonrpc: "2.0", id: request.message.id, result: discoverResult() },
              { headers: { "mcp-protocol-version": "2025-11-25" } },
            )
          : undefined,
      );
    const { client: strict } = client({ strict: { headers: true } });
    await expect(strict.connect((await mislabelled()).url)).rejects.toMatchObject({
      code: "ERR_BAD_HEADER",
    });
    const { client: lenient } = client();
    await lenient.connect((await mislabelled()).url);
    open.push(lenient);
    expect(lenient.protocolVersion).toBe("2026-07-28");
  });

  describe("an UnsupportedProtocolVersionError that lists the version it refused", () => {
    // Our real server, behind a front that answers the first `times` probes as an instance
    // mid-upgrade would: refusing 2026-07-28 while naming it as supported.
    async function refusingFront(times: number) {
      const { mcp } = richServer();
      const url = await serve(mcp);
      const seen: string[] = [];
      let refusals = 0;
      const front: typeof fetch = async (input, init) => {
        const body = typeof init?.body === "string" ? (JSON.parse(init.body) as Json) : {};
        if (typeof body.method === "string") seen.push(body.method);
        if (body.method === "server/discover" && refusals < times) {
          refusals++;
          return Response.json(
            {
              jsonrpc: "2.0",
              id: body.id,
              error: {
                code: -32022,
                message: "Unsupported protocol version",
                data: { supported: ["2026-07-28"], requested: "2026-07-28" },
              },
            },
            { status: 400 },
          );
        }
        return fetch(input, init);
      };
      return { url, seen, front };
    }

    it("is tried once more at that version, and the connection is made", async () => {
      const { url, seen, front } = await refusingFront(1);
      const { client: c } = client();
      await c.connect(url, { fetch: front });
      open.push(c);
      expect(c.protocolVersion).toBe("2026-07-28");
      expect(seen).toEqual(["server/discover", "server/discover"]);
      expect((await c.callTool("echo", { text: "again" })).content).toEqual([
        { type: "text", text: "echo: again" },
      ]);
    });

    it("is tried once more only: a second refusal is a ProtocolVersionError", async () => {
      const { url, seen, front } = await refusingFront(5);
      const { client: c } = client({ protocolVersion: "2026-07-28" });
      const error = await c.connect(url, { fetch: front }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProtocolVersionError);
      expect(error).toMatchObject({ code: "ERR_PROTOCOL_VERSION", received: ["2026-07-28"] });
      expect(seen).toEqual(["server/discover", "server/discover"]);
      expect(c.connected).toBe(false);
    });
  });

  it("follows a DiscoverResult to a server that also lists 2025 revisions", async () => {
    const fake = await fakeServer((request) =>
      request.method === "server/discover"
        ? discoverResult({ supportedVersions: ["2026-07-28", "2025-11-25"] })
        : { resultType: "complete", tools: [] },
    );
    const { client: c } = client();
    await c.connect(fake.url);
    open.push(c);
    expect(c.protocolVersion).toBe("2026-07-28");
    expect(c.serverInfo).toEqual({ name: "fake-modern", version: "0.0.0" });
    expect(await c.listTools()).toEqual({ tools: [] });
  });
});

describe("a server that speaks only 2025 revisions", () => {
  it("answers the probe with the versions it speaks; the client initializes with the newest", async () => {
    const { mcp } = richServer({ protocolVersions: ["2025-11-25"] });
    const { client: c, calls } = await connect(await serve(mcp));
    expect(c.protocolVersion).toBe("2025-11-25");
    expect(calls[0]).toMatchObject({ method: "POST", status: 400 });
    expect(methodsOf(calls).slice(0, 3)).toEqual([
      "server/discover",
      "initialize",
      "notifications/initialized",
    ]);
    expect((await c.callTool("echo", { text: "old" })).content).toEqual([
      { type: "text", text: "echo: old" },
    ]);
    // Requests after the fall back are plain 2025 ones.
    const later = calls.find((call) => call.body?.includes('"tools/call"'))!;
    expect(later.headers.has("mcp-method")).toBe(false);
    expect((bodyOf(later).params as Json)._meta).toBeUndefined();
  });

  it("offers the 2025 revision the server listed, not its own newest", async () => {
    const { mcp } = richServer({ protocolVersions: ["2025-06-18"] });
    const { client: c, calls } = await connect(await serve(mcp, { sessions: true }));
    expect(c.protocolVersion).toBe("2025-06-18");
    const initialize = calls.find((call) => call.body?.includes('"initialize"'))!;
    expect(bodyOf(initialize)).toMatchObject({ params: { protocolVersion: "2025-06-18" } });
    expect(c.sessionId).toMatch(/\S/);
  });

  it.each([400, 404, 405])(
    "falls back when the probe gets HTTP %i without a modern error",
    async (status) => {
      const fake = await fakeServer((request) =>
        request.method === "server/discover"
          ? new Response("no such thing here", {
              status,
              headers: { "content-type": "text/plain" },
            })
          : undefined,
      );
      const { client: c } = client();
      await c.connect(fake.url);
      open.push(c);
      expect(c.protocolVersion).toBe("2025-11-25");
      expect(fake.requests.map((request) => request.method)).toEqual([
        "server/discover",
        "initialize",
        "notifications/initialized",
      ]);
    },
  );

  it("falls back on a 400 whose JSON-RPC error is no modern one (a session-minded server)", async () => {
    const fake = await fakeServer((request) =>
      request.method === "server/discover"
        ? Response.json(
            {
              jsonrpc: "2.0",
              id: request.message.id,
              error: { code: -32000, message: "Bad Request: Server not initialized" },
            },
            { status: 400 },
          )
        : undefined,
    );
    const { client: c } = client();
    await c.connect(fake.url);
    open.push(c);
    expect(c.protocolVersion).toBe("2025-11-25");
  });

  it("told to speak 2026-07-28, fails with ProtocolVersionError and sends no initialize", async () => {
    const { mcp } = richServer({ protocolVersions: ["2025-11-25"] });
    const url = await serve(mcp);
    const recorder = recordingFetch();
    const { client: c } = client({ protocolVersion: "2026-07-28" });
    const error = await c.connect(url, { fetch: recorder.fetch }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolVersionError);
    expect(error).toMatchObject({ code: "ERR_PROTOCOL_VERSION", received: ["2025-11-25"] });
    expect((error as Error).message).toContain("2026-07-28");
    expect(methodsOf(recorder.calls)).toEqual(["server/discover"]);
    expect(c.connected).toBe(false);
  });

  it("told to speak a 2025 revision, the client does not probe", async () => {
    const { mcp } = richServer();
    const { client: c, calls } = await connect(await serve(mcp), {
      protocolVersion: "2025-06-18",
    });
    expect(c.protocolVersion).toBe("2025-06-18");
    expect(methodsOf(calls)[0]).toBe("initialize");
  });
});

describe("the era remembered in the ClientStateStore", () => {
  it("a 2025 server is remembered for its origin: the next connect skips the probe", async () => {
    const { mcp } = richServer({ protocolVersions: ["2025-11-25"] });
    const url = await serve(mcp);
    const state = memoryClientState();
    const first = await connect(url);
    await first.client.close();
    // Without a store nothing is remembered.
    const again = await connect(url);
    expect(methodsOf(again.calls)[0]).toBe("server/discover");

    const { client: c } = client();
    await c.connect(url, { state });
    await c.close();
    expect(await state.get()).toEqual({
      protocolVersion: "2025-11-25",
      origin: new URL(url).origin,
    });
    const recorder = recordingFetch();
    const { client: next } = client();
    await next.connect(url, { state, fetch: recorder.fetch });
    open.push(next);
    expect(next.protocolVersion).toBe("2025-11-25");
    expect(methodsOf(recorder.calls)[0]).toBe("initialize");
  });

  it("a record for another origin is not used", async () => {
    const { mcp } = richServer({ protocolVersions: ["2025-11-25"] });
    const url = await serve(mcp);
    const state = memoryClientState({
      protocolVersion: "2025-11-25",
      origin: "https://elsewhere.example",
    });
    const recorder = recordingFetch();
    const { client: c } = client();
    await c.connect(url, { state, fetch: recorder.fetch });
    open.push(c);
    expect(methodsOf(recorder.calls)[0]).toBe("server/discover");
    expect((await state.get())?.origin).toBe(new URL(url).origin);
  });

  it("a server remembered as 2025 that now refuses initialize is probed again", async () => {
    const fake = await fakeServer((request) => {
      if (request.method === "initialize") {
        return Response.json(
          {
            jsonrpc: "2.0",
            id: request.message.id,
            error: { code: -32601, message: "Method not found; this server speaks 2026-07-28" },
          },
          { status: 404 },
        );
      }
      if (request.method === "server/discover") return discoverResult();
      return undefined;
    });
    const state = memoryClientState({
      protocolVersion: "2025-11-25",
      origin: new URL(fake.url).origin,
    });
    const { client: c } = client();
    await c.connect(fake.url, { state });
    open.push(c);
    expect(c.protocolVersion).toBe("2026-07-28");
    expect(fake.requests.map((request) => request.method)).toEqual([
      "initialize",
      "server/discover",
    ]);
    expect((await state.get())?.protocolVersion).toBe("2026-07-28");
  });
});
