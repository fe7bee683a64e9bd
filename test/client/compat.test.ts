/** Version negotiation and the compatibility flags: lenient by default, strict on request. */
import { afterEach, describe, expect, it } from "vitest";
import {
  type McpClient,
  McpError,
  OutputSchemaError,
  ProtocolError,
  ProtocolVersionError,
} from "../../src/client/index.ts";
import { client, type FakeAnswer, fakeServer, type Json, richServer, serve } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function initResult(overrides: Json = {}): Json {
  return {
    protocolVersion: "2025-11-25",
    capabilities: { tools: {} },
    serverInfo: { name: "fake", version: "0.0.0" },
    ...overrides,
  };
}

async function connectTo(answer: FakeAnswer, options: Parameters<typeof client>[0] = {}) {
  const fake = await fakeServer(answer);
  const made = client(options);
  await made.client.connect(fake.url);
  open.push(made.client);
  return { ...made, ...fake };
}

describe("version negotiation", () => {
  it.each(["2025-06-18", "2025-03-26"])(
    "accepts a server answering %s and labels later requests with it",
    async (version) => {
      const { client: c, requests } = await connectTo((request) =>
        request.method === "initialize" ? initResult({ protocolVersion: version }) : undefined,
      );
      expect(c.protocolVersion).toBe(version);
      await c.ping().catch(() => undefined);
      // The 2026-07-28 probe, which a 2025 server does not know, then initialize.
      const [probe, initialize, ...later] = requests;
      expect(probe!.method).toBe("server/discover");
      expect(initialize!.message).toMatchObject({ params: { protocolVersion: "2025-11-25" } });
      expect(later.map((request) => request.method)).toEqual(["notifications/initialized", "ping"]);
      for (const request of later)
        expect(request.headers.get("mcp-protocol-version")).toBe(version);
    },
  );

  it.each([["2099-01-01"], ["2024-11-05"], [undefined]])(
    "fails clearly with ProtocolVersionError on %s",
    async (version) => {
      const fake = await fakeServer((request) =>
        request.method === "initialize" ? initResult({ protocolVersion: version }) : undefined,
      );
      const { client: c } = client();
      const error = await c.connect(fake.url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProtocolVersionError);
      expect(error).toMatchObject({ code: "ERR_PROTOCOL_VERSION", received: version });
      expect(c.connected).toBe(false);
      expect(fake.requests.map((request) => request.method)).toEqual([
        "server/discover",
        "initialize",
      ]);
    },
  );

  it("offers an older revision when told to, and our server agrees", async () => {
    const { mcp } = richServer();
    const { client: c } = client({ protocolVersion: "2025-06-18" });
    await c.connect(await serve(mcp, { sessions: true }));
    open.push(c);
    expect(c.protocolVersion).toBe("2025-06-18");
    expect((await c.callTool("echo", { text: "old" })).content).toEqual([
      { type: "text", text: "echo: old" },
    ]);
  });
});

describe("contract fields", () => {
  const sloppy: FakeAnswer = (request) => {
    if (request.method === "initialize") return { protocolVersion: "2025-11-25" };
    if (request.method === "tools/list") return { items: [] };
    if (request.method === "tools/call") return { structuredContent: { ok: true } };
    return undefined;
  };

  it("lenient: fills in what is missing and warns", async () => {
    const { client: c, warnings } = await connectTo(sloppy);
    expect(c.serverInfo).toEqual({ name: "unknown", version: "unknown" });
    expect(c.serverCapabilities).toEqual({});
    expect((await c.listTools()).tools).toEqual([]);
    expect((await c.callTool("x")).content).toEqual([]);
    expect(warnings.map((warning) => warning.code)).toEqual([
      "contract",
      "contract",
      "contract",
      "tool_result_content",
    ]);
  });

  it("strict contract: an initialize result without serverInfo fails the connection", async () => {
    const fake = await fakeServer(sloppy);
    const { client: c } = client({ strict: { contract: true } });
    const error = await c.connect(fake.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: "ERR_CONTRACT" });
    expect((error as Error).message).toContain("serverInfo");
  });

  it("strict toolResultContent: a result without content fails the call", async () => {
    const { client: c } = await connectTo(sloppy, { strict: { toolResultContent: true } });
    await expect(c.callTool("x")).rejects.toMatchObject({
      name: "ProtocolError",
      code: "ERR_TOOL_RESULT_CONTENT",
    });
  });

  it("strict: true turns every rule on", async () => {
    const fake = await fakeServer(sloppy);
    const { client: c } = client({ strict: true });
    await expect(c.connect(fake.url)).rejects.toMatchObject({ code: "ERR_CONTRACT" });
  });
});

describe("capabilities", () => {
  it("lenient: tries a call the server did not declare, and gets its error", async () => {
    const { client: c } = await connectTo(() => undefined);
    await expect(c.listPrompts()).rejects.toBeInstanceOf(McpError);
  });

  it("strict: refuses the call without sending it", async () => {
    const { client: c, requests } = await connectTo(() => undefined, {
      strict: { capabilities: true },
    });
    await expect(c.listPrompts()).rejects.toMatchObject({ code: "ERR_CAPABILITY" });
    await expect(c.subscribe("a://b")).rejects.toMatchObject({ code: "ERR_CAPABILITY" });
    expect(requests.map((request) => request.method)).not.toContain("prompts/list");
    // What was declared still goes out.
    await expect(c.listTools()).rejects.toMatchObject({ code: -32601 });
  });
});

describe("header rules", () => {
  it("lenient: ignores a reply labelled with another protocol version", async () => {
    const { client: c } = await connectTo((request) =>
      request.method === "tools/call"
        ? new Response(
            JSON.stringify({ jsonrpc: "2.0", id: request.message.id, result: { content: [] } }),
            {
              headers: { "content-type": "application/json", "mcp-protocol-version": "2025-03-26" },
            },
          )
        : undefined,
    );
    expect(await c.callTool("x")).toEqual({ content: [] });
  });

  it("strict headers: a reply labelled with another version fails with ERR_BAD_HEADER", async () => {
    const { client: c } = await connectTo(
      (request) =>
        request.method === "tools/call"
          ? new Response(
              JSON.stringify({ jsonrpc: "2.0", id: request.message.id, result: { content: [] } }),
              {
                headers: {
                  "content-type": "application/json",
                  "mcp-protocol-version": "2025-03-26",
                },
              },
            )
          : undefined,
      { strict: { headers: true } },
    );
    await expect(c.callTool("x")).rejects.toMatchObject({ code: "ERR_BAD_HEADER" });
  });

  const badSession: FakeAnswer = (request) =>
    request.method === "initialize"
      ? new Response(
          JSON.stringify({ jsonrpc: "2.0", id: request.message.id, result: initResult() }),
          {
            headers: { "content-type": "application/json", "mcp-session-id": "has spaces in it" },
          },
        )
      : undefined;

  it("lenient: takes a session id that is not visible ASCII", async () => {
    const { client: c } = await connectTo(badSession);
    expect(c.sessionId).toBe("has spaces in it");
  });

  it("strict headers: refuses it", async () => {
    const fake = await fakeServer(badSession);
    const { client: c } = client({ strict: { headers: true } });
    await expect(c.connect(fake.url)).rejects.toMatchObject({ code: "ERR_BAD_HEADER" });
  });
});

describe("output schema validation", () => {
  const schema = {
    type: "object",
    properties: { n: { type: "number" } },
    required: ["n"],
  };

  function toolServer(structured: unknown, extra: Json = {}): FakeAnswer {
    return (request) => {
      if (request.method === "tools/list") {
        return {
          tools: [
            { name: "typed", inputSchema: { type: "object" }, outputSchema: schema },
            {
              name: "exotic",
              inputSchema: { type: "object" },
              outputSchema: { type: "object", unevaluatedProperties: false },
            },
          ],
        };
      }
      if (request.method === "tools/call") {
        return {
          content: [{ type: "text", text: JSON.stringify(structured) }],
          ...(structured === undefined ? {} : { structuredContent: structured }),
          ...extra,
        };
      }
      return undefined;
    };
  }

  it("accepts structuredContent that matches", async () => {
    const { client: c, warnings } = await connectTo(toolServer({ n: 1 }), {
      strict: { outputSchema: true },
    });
    await c.listTools();
    expect((await c.callTool("typed")).structuredContent).toEqual({ n: 1 });
    expect(warnings).toEqual([]);
  });

  it("lenient: returns a mismatching result and warns", async () => {
    const { client: c, warnings } = await connectTo(toolServer({ n: "one" }));
    await c.listTools();
    expect((await c.callTool("typed")).structuredContent).toEqual({ n: "one" });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: "output_schema" });
    expect(warnings[0]!.message).toContain('"typed"');
  });

  it("strict: throws OutputSchemaError carrying the result", async () => {
    const { client: c } = await connectTo(toolServer({ n: "one" }), {
      strict: { outputSchema: true },
    });
    await c.listTools();
    const error = (await c.callTool("typed").catch((e: unknown) => e)) as OutputSchemaError;
    expect(error).toBeInstanceOf(OutputSchemaError);
    expect(error.code).toBe("ERR_OUTPUT_SCHEMA");
    expect(error.tool).toBe("typed");
    expect(error.result.structuredContent).toEqual({ n: "one" });
  });

  it("strict: a result without structuredContent breaks the schema too", async () => {
    const { client: c } = await connectTo(toolServer(undefined), {
      strict: { outputSchema: true },
    });
    await c.listTools();
    await expect(c.callTool("typed")).rejects.toBeInstanceOf(OutputSchemaError);
  });

  it("checks nothing for a tool it has not listed", async () => {
    const { client: c, warnings } = await connectTo(toolServer({ n: "one" }), {
      strict: { outputSchema: true },
    });
    expect((await c.callTool("typed")).structuredContent).toEqual({ n: "one" });
    expect(warnings).toEqual([]);
  });

  it("checks nothing on an error result", async () => {
    const { client: c } = await connectTo(toolServer({ n: "one" }, { isError: true }), {
      strict: { outputSchema: true },
    });
    await c.listTools();
    expect((await c.callTool("typed")).isError).toBe(true);
  });

  it("warns, never throws, for a schema zod cannot compile", async () => {
    const { client: c, warnings } = await connectTo(toolServer({ anything: 1 }), {
      strict: { outputSchema: true },
    });
    await c.listTools();
    expect((await c.callTool("exotic")).structuredContent).toEqual({ anything: 1 });
    expect(warnings.map((warning) => warning.code)).toEqual(["output_schema_unchecked"]);
  });
});
