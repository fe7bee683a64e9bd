/**
 * Names in what a server sends (task input requests, structured content, tool schemas) and
 * names a caller passes are looked up among own entries only: `__proto__` and `constructor`
 * stay data, and nothing is read off Object.prototype.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { paramHeaders, requestMetadataHeaders } from "../../src/client/headers.ts";
import { type McpClient, ProtocolError, toLlmContent } from "../../src/client/index.ts";
import { McpServer } from "../../src/index.ts";
import { client, fakeServer, serve } from "./support.ts";

const HOSTILE = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  for (const name of ["polluted", "method"])
    expect(Object.hasOwn(Object.prototype, name)).toBe(false);
});

async function connected(url: string, options: Parameters<typeof client>[0] = {}) {
  const made = client(options);
  await made.client.connect(url);
  open.push(made.client);
  return made;
}

describe("a server's reply with prototype-named keys", () => {
  it("keeps task input requests named __proto__ or constructor as plain keys", async () => {
    const raw = `{"taskId":"t1","status":"input_required","inputRequests":{"__proto__":{"method":"elicitation/create","params":{}},"constructor":{"method":"roots/list","params":{}},"toString":5}}`;
    const fake = await fakeServer((request) =>
      request.method === "tasks/get"
        ? new Response(
            `{"jsonrpc":"2.0","id":${JSON.stringify(request.message.id)},"result":${raw}}`,
            {
              headers: { "content-type": "application/json" },
            },
          )
        : undefined,
    );
    const { client: c } = await connected(fake.url, { protocolVersion: "2025-11-25" });
    const task = await c.getTask("t1");
    const requests = task.inputRequests!;
    expect(Object.getPrototypeOf(requests)).toBe(Object.prototype);
    expect(Object.keys(requests)).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(requests, "__proto__")?.value).toEqual({
      method: "elicitation/create",
      params: {},
    });
    expect((requests as Record<string, unknown>).method).toBeUndefined();
  });

  it("does not take structured content with a __proto__ key for the text that is already there", () => {
    const structured = JSON.parse('{"__proto__":{"secret":"s"}}') as Record<string, unknown>;
    const content = toLlmContent({
      content: [{ type: "text", text: "{}" }],
      structuredContent: structured,
    });
    expect(content).toEqual([
      { type: "text", text: "{}" },
      { type: "text", text: '{"__proto__":{"secret":"s"}}' },
    ]);
  });

  it("reads no mirrored header argument off the prototype", () => {
    for (const name of HOSTILE) {
      expect(paramHeaders([{ name: "Kind", path: [name] }], {})).toEqual({});
      expect(requestMetadataHeaders(name, { name: "x" }, "2026-07-28")).toEqual({
        "mcp-method": name,
        "mcp-protocol-version": "2026-07-28",
      });
    }
    expect(paramHeaders([{ name: "Kind", path: ["valueOf"] }], { valueOf: "x" })).toEqual({
      "mcp-param-Kind": "x",
    });
  });

  it("checks structured content against an outputSchema whose properties share Object's names", async () => {
    const mcp = new McpServer({ name: "named", version: "1.0.0" });
    mcp.tool(
      "shaped",
      {
        output: z.object({ constructor: z.string().optional(), valueOf: z.number().optional() }),
      },
      // Neither property is set: an empty object, as the JSON of a reply would be.
      () => JSON.parse("{}"),
    );
    const url = await serve(mcp);
    const { client: c, warnings } = await connected(url, { protocolVersion: "2025-11-25" });
    await c.listTools();
    const result = await c.callTool("shaped");
    expect(result.structuredContent).toEqual({});
    expect(warnings).toEqual([]);
  });
});

describe("a caller's method names", () => {
  it.each(HOSTILE)("sends %s to the server and reports its -32601, strict or not", async (name) => {
    const url = await serve(new McpServer({ name: "plain", version: "1.0.0" }));
    const { client: c } = await connected(url, {
      protocolVersion: "2025-11-25",
      strict: { capabilities: true },
    });
    const error = await c.request(name).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(TypeError);
    expect(error).not.toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: -32601 });
  });
});
