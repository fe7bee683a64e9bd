/** The MCP-Protocol-Version header and version negotiation at initialize. */
import { beforeAll, describe, expect, it } from "vitest";
import { McpServer } from "../../src/index.ts";
import {
  expectServes,
  initializeRequest,
  initSession,
  type Json,
  messagesOf,
  openGet,
  ping,
  post,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

function server(
  options: { protocolVersions?: ("2025-11-25" | "2025-06-18" | "2025-03-26")[] } = {},
) {
  const mcp = new McpServer({ name: "versions", version: "1.0.0", ...options });
  mcp.tool("version", {}, (_args, ctx) => ctx.client.protocolVersion);
  return mcp;
}

/** What protocol version the server believes a tools/call speaks. */
async function versionSeen(url: string, headers: Record<string, string>): Promise<string> {
  const response = await post(url, toolCall(1, "version"), headers);
  expect(response.status).toBe(200);
  const messages = (await messagesOf(response)) as Json[];
  const result = messages.at(-1)?.result as { content: { text: string }[] };
  return result.content[0]!.text;
}

async function negotiated(url: string, requested: unknown): Promise<string> {
  const request = initializeRequest();
  (request.params as Json).protocolVersion = requested;
  const response = await post(url, request);
  expect(response.status).toBe(200);
  const messages = (await messagesOf(response)) as Json[];
  return (messages[0]!.result as Json).protocolVersion as string;
}

let stateless: string;
let stateful: string;
let narrow: string;

beforeAll(async () => {
  stateless = await start(server());
  stateful = await start(server(), { sessions: true });
  narrow = await start(server({ protocolVersions: ["2025-06-18"] }), { sessions: true });
});

describe("MCP-Protocol-Version header", () => {
  it.each(["1999-01-01", "2024-11-05", "latest", ""])(
    "answers 400 to the unsupported value %j on a stateless POST",
    async (version) => {
      const response = await post(stateless, ping(), { "mcp-protocol-version": version });
      expect(response.status).toBe(400);
      const body = (await response.json()) as Json;
      expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: expect.any(Number) } });
      await expectServes(stateless);
    },
  );

  it("answers 400 to an unsupported value on a session POST", async () => {
    const { id } = await initSession(stateful);
    const response = await post(stateful, ping(), {
      ...sessionHeaders(id),
      "mcp-protocol-version": "2099-01-01",
    });
    expect(response.status).toBe(400);
    await expectServes(stateful, sessionHeaders(id));
  });

  it("answers 400 to an unsupported value on GET and DELETE", async () => {
    const { id } = await initSession(stateful);
    const bad = { "mcp-protocol-version": "2099-01-01" };
    const get = await openGet(stateful, id, bad);
    expect(get.status).toBe(400);
    await get.body?.cancel();
    const del = await fetch(stateful, {
      method: "DELETE",
      headers: { ...sessionHeaders(id), ...bad },
    });
    expect(del.status).toBe(400);
    // The refused DELETE did not end the session.
    await expectServes(stateful, sessionHeaders(id));
  });

  it("answers 400 to a revision the server does not offer", async () => {
    const response = await post(narrow, ping(), { "mcp-protocol-version": "2025-11-25" });
    expect(response.status).toBe(400);
  });

  it("assumes 2025-03-26 when a stateless request has no header", async () => {
    expect(await versionSeen(stateless, {})).toBe("2025-03-26");
  });

  it.each(["2025-03-26", "2025-06-18", "2025-11-25"])(
    "takes a stateless request's version from its header (%s)",
    async (version) => {
      expect(await versionSeen(stateless, { "mcp-protocol-version": version })).toBe(version);
    },
  );

  it("uses the version a session negotiated when the header is absent", async () => {
    const { id } = await initSession(stateful, "2025-06-18");
    expect(await versionSeen(stateful, { "mcp-session-id": id })).toBe("2025-06-18");
  });
});

describe("negotiation at initialize", () => {
  it.each(["2025-11-25", "2025-06-18", "2025-03-26"])("echoes a known version (%s)", async (v) => {
    expect(await negotiated(stateless, v)).toBe(v);
    expect(await negotiated(stateful, v)).toBe(v);
  });

  it.each([["2024-11-05"], ["2099-12-31"], [42], [null]])(
    "answers an unknown version (%j) with the latest, 2025-11-25",
    async (requested) => {
      expect(await negotiated(stateless, requested)).toBe("2025-11-25");
    },
  );

  it("answers with the server's newest offered version when it cannot match", async () => {
    expect(await negotiated(narrow, "2025-11-25")).toBe("2025-06-18");
    expect(await negotiated(narrow, "2025-06-18")).toBe("2025-06-18");
  });

  it("records the negotiated version on the session", async () => {
    const { id, result } = await initSession(stateful, "2024-01-01");
    expect(result.protocolVersion).toBe("2025-11-25");
    expect(await versionSeen(stateful, sessionHeaders(id))).toBe("2025-11-25");
  });
});
