import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCode, McpError, McpServer, ToolError } from "../../src/index.ts";
import { call, error, result } from "./support.ts";

function server(): McpServer {
  return new McpServer({ name: "tools", version: "1.0.0" });
}

async function callTool(mcp: McpServer, name: string, args?: unknown) {
  return result(mcp, "tools/call", args === undefined ? { name } : { name, arguments: args });
}

describe("tool results", () => {
  const png = { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" } as const;

  it.each([
    ["a string", "hello", [{ type: "text", text: "hello" }]],
    ["an empty string", "", [{ type: "text", text: "" }]],
    ["a content block", png, [png]],
    ["an array of blocks", [{ type: "text", text: "a" }, png], [{ type: "text", text: "a" }, png]],
    ["a plain object", { a: 1, b: [true] }, [{ type: "text", text: '{"a":1,"b":[true]}' }]],
    ["a number", 42, [{ type: "text", text: "42" }]],
    ["an array of non-blocks", [1, "x"], [{ type: "text", text: '[1,"x"]' }]],
    ["undefined", undefined, []],
    ["null", null, []],
  ])("normalizes %s", async (_what, returned, content) => {
    const mcp = server();
    mcp.tool("t", {}, () => returned);
    expect(await callTool(mcp, "t")).toEqual({ content });
  });

  it("passes a full CallToolResult through as is", async () => {
    const mcp = server();
    const full = {
      content: [{ type: "text", text: "partial" }],
      isError: true,
      _meta: { trace: "abc" },
    };
    mcp.tool("t", {}, () => full);
    expect(await callTool(mcp, "t")).toEqual(full);
  });

  it("awaits async handlers", async () => {
    const mcp = server();
    mcp.tool("t", {}, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return "later";
    });
    expect(await callTool(mcp, "t")).toEqual({ content: [{ type: "text", text: "later" }] });
  });
});

describe("structured output", () => {
  const output = z.object({ id: z.string(), count: z.number().int() });

  it("publishes outputSchema and returns structuredContent with a JSON text mirror", async () => {
    const mcp = server();
    mcp.tool("t", { output }, () => ({ id: "a", count: 2 }));
    const listed = await result(mcp, "tools/list");
    expect(listed.tools).toEqual([
      expect.objectContaining({
        outputSchema: expect.objectContaining({
          type: "object",
          properties: {
            id: { type: "string" },
            count: expect.objectContaining({ type: "integer" }),
          },
          required: ["id", "count"],
        }),
      }),
    ]);
    const called = await callTool(mcp, "t");
    expect(called).toEqual({
      content: [{ type: "text", text: '{"id":"a","count":2}' }],
      structuredContent: { id: "a", count: 2 },
    });
    expect(JSON.parse((called.content as { text: string }[])[0]!.text)).toEqual(
      called.structuredContent,
    );
  });

  it("keeps the content of a CallToolResult that carries valid structuredContent", async () => {
    const mcp = server();
    mcp.tool("t", { output }, () => ({
      content: [{ type: "text" as const, text: "custom" }],
      structuredContent: { id: "b", count: 3 },
    }));
    expect(await callTool(mcp, "t")).toEqual({
      content: [{ type: "text", text: "custom" }],
      structuredContent: { id: "b", count: 3 },
    });
  });

  it("turns structured output that breaks the schema into an isError result", async () => {
    const mcp = server();
    mcp.tool("t", { output }, () => ({ id: "a", count: 1.5 }));
    const called = await callTool(mcp, "t");
    expect(called.isError).toBe(true);
    expect(called).not.toHaveProperty("structuredContent");
    const message = (called.content as { text: string }[])[0]!.text;
    expect(message).toContain('Tool "t" returned output that does not match its schema');
    expect(message).toContain("count");
  });

  it("checks structuredContent inside a returned CallToolResult too", async () => {
    const mcp = server();
    mcp.tool("t", { output }, () => ({
      content: [{ type: "text" as const, text: "x" }],
      structuredContent: { id: 1 },
    }));
    expect((await callTool(mcp, "t")).isError).toBe(true);
  });

  it("lets an isError CallToolResult through without structured content", async () => {
    const mcp = server();
    mcp.tool("t", { output }, () => ({
      content: [{ type: "text" as const, text: "could not" }],
      isError: true,
    }));
    expect(await callTool(mcp, "t")).toEqual({
      content: [{ type: "text", text: "could not" }],
      isError: true,
    });
  });

  it("publishes what the handler returned, not the schema's transformed value", async () => {
    const mcp = server();
    mcp.tool("t", { output: z.object({ n: z.string().transform(Number) }) }, () => ({ n: "7" }));
    expect((await callTool(mcp, "t")).structuredContent).toEqual({ n: "7" });
  });

  it("accepts a raw JSON Schema as output and validates against it", async () => {
    const mcp = server();
    const outputSchema = {
      type: "object",
      properties: { ok: { type: "boolean" } },
      required: ["ok"],
    };
    let value: unknown = { ok: true };
    mcp.tool("t", { output: outputSchema }, () => value as { ok: boolean });
    expect((await result(mcp, "tools/list")).tools).toEqual([
      { name: "t", inputSchema: { type: "object", properties: {} }, outputSchema },
    ]);
    expect((await callTool(mcp, "t")).structuredContent).toEqual({ ok: true });
    value = { ok: "yes" };
    expect((await callTool(mcp, "t")).isError).toBe(true);
  });

  it("refuses a non-object output schema at registration", () => {
    expect(() => server().tool("t", { output: z.string() }, () => "x")).toThrow(
      /Output schema of tool "t" must be an object schema/,
    );
  });
});

describe("tool input", () => {
  it("publishes a zod input as JSON Schema 2020-12, with defaults and descriptions", async () => {
    const mcp = server();
    mcp.tool(
      "t",
      {
        title: "T",
        description: "does t",
        input: z.object({
          text: z.string().min(1).describe("The text"),
          times: z.number().int().default(1),
        }),
        annotations: { readOnlyHint: true },
        icons: [{ src: "https://example.com/t.png" }],
        _meta: { vendor: "x" },
      },
      () => "ok",
    );
    const [tool] = (await result(mcp, "tools/list")).tools as Record<string, unknown>[];
    expect(tool).toEqual({
      name: "t",
      title: "T",
      description: "does t",
      inputSchema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        properties: {
          text: { type: "string", minLength: 1, description: "The text" },
          times: expect.objectContaining({ type: "integer", default: 1 }),
        },
        required: ["text"],
      },
      annotations: { readOnlyHint: true },
      icons: [{ src: "https://example.com/t.png" }],
      _meta: { vendor: "x" },
    });
  });

  it("hands the parsed arguments (with defaults) to the handler", async () => {
    const mcp = server();
    let seen: unknown;
    mcp.tool("t", { input: z.object({ a: z.string(), n: z.number().default(3) }) }, (args) => {
      seen = args;
      return "ok";
    });
    await callTool(mcp, "t", { a: "x" });
    expect(seen).toEqual({ a: "x", n: 3 });
  });

  it("turns invalid arguments into an isError result that names the problem", async () => {
    const mcp = server();
    let ran = false;
    mcp.tool("t", { input: z.object({ text: z.string().min(2), n: z.number() }) }, () => {
      ran = true;
      return "ok";
    });
    const called = await callTool(mcp, "t", { text: "x", n: "one" });
    expect(ran).toBe(false);
    expect(called.isError).toBe(true);
    const message = (called.content as { text: string }[])[0]!.text;
    expect(message).toMatch(/^Invalid arguments for tool "t": /);
    expect(message).toMatch(/text: /);
    expect(message).toMatch(/n: /);
  });

  it("calls a tool sent without an `arguments` field", async () => {
    const mcp = server();
    let seen: unknown = "unset";
    mcp.tool("bare", {}, (args) => {
      seen = args;
      return "ok";
    });
    mcp.tool("optional", { input: z.object({ q: z.string().optional() }) }, () => "fine");
    mcp.tool("required", { input: z.object({ q: z.string() }) }, () => "never");
    expect(await callTool(mcp, "bare")).toEqual({ content: [{ type: "text", text: "ok" }] });
    expect(seen).toEqual({});
    expect(await callTool(mcp, "optional")).toEqual({ content: [{ type: "text", text: "fine" }] });
    const missing = await callTool(mcp, "required");
    expect(missing.isError).toBe(true);
    expect((missing.content as { text: string }[])[0]!.text).toContain("q");
  });

  it("publishes an empty object schema for a tool without input", async () => {
    const mcp = server();
    mcp.tool("t", {}, () => "ok");
    expect((await result(mcp, "tools/list")).tools).toEqual([
      { name: "t", inputSchema: { type: "object", properties: {} } },
    ]);
  });

  it("answers arguments that are not an object with -32602", async () => {
    const mcp = server();
    mcp.tool("t", {}, () => "ok");
    for (const args of [[1, 2], "text", 5]) {
      const failed = await error(mcp, "tools/call", { name: "t", arguments: args });
      expect(failed.code).toBe(ErrorCode.InvalidParams);
    }
  });

  describe("raw JSON Schema", () => {
    const inputSchema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { positive: { type: "integer", minimum: 1 } },
      properties: { count: { $ref: "#/$defs/positive" }, tag: { type: "string" } },
      required: ["count"],
    };

    it("is published exactly as given, $schema and $defs included", async () => {
      const mcp = server();
      mcp.tool("t", { input: inputSchema }, () => "ok");
      const [tool] = (await result(mcp, "tools/list")).tools as { inputSchema: unknown }[];
      expect(tool!.inputSchema).toEqual(inputSchema);
    });

    it("is validated where zod can express it, $ref included", async () => {
      const mcp = server();
      let seen: unknown;
      mcp.tool("t", { input: inputSchema }, (args) => {
        seen = args;
        return "ok";
      });
      expect((await callTool(mcp, "t", { count: 0 })).isError).toBe(true);
      expect((await callTool(mcp, "t", { tag: "x" })).isError).toBe(true);
      expect((await callTool(mcp, "t", { count: "2" })).isError).toBe(true);
      expect(await callTool(mcp, "t", { count: 2, extra: true })).toEqual({
        content: [{ type: "text", text: "ok" }],
      });
      // Properties the schema does not forbid reach the handler.
      expect(seen).toEqual({ count: 2, extra: true });
    });

    it("falls back to publishing it when zod cannot express it", async () => {
      const mcp = server();
      const conditional = {
        type: "object",
        properties: { a: { type: "string" } },
        dependentRequired: { a: ["b"] },
      };
      mcp.tool("t", { input: conditional }, () => "ok");
      const [tool] = (await result(mcp, "tools/list")).tools as { inputSchema: unknown }[];
      expect(tool!.inputSchema).toEqual(conditional);
      expect(await callTool(mcp, "t", { a: "x" })).toEqual({
        content: [{ type: "text", text: "ok" }],
      });
    });

    it("must describe an object", () => {
      expect(() => server().tool("t", { input: { type: "string" } }, () => "x")).toThrow(
        /Input schema of tool "t" must be an object schema/,
      );
      expect(() => server().tool("t", { input: z.array(z.string()) }, () => "x")).toThrow(
        TypeError,
      );
    });
  });
});

describe("tool errors", () => {
  it("turns a thrown ToolError into an isError result with its message", async () => {
    const mcp = server();
    mcp.tool("t", {}, () => {
      throw new ToolError("disk full");
    });
    expect(await callTool(mcp, "t")).toEqual({
      content: [{ type: "text", text: "disk full" }],
      isError: true,
    });
  });

  it("turns anything else thrown into an isError result that hides it", async () => {
    const mcp = server();
    mcp.tool("t", {}, () => Promise.reject("nope"));
    mcp.tool("u", {}, () => {
      throw new Error("password=hunter2");
    });
    for (const name of ["t", "u"]) {
      const result = await callTool(mcp, name);
      expect(result).toEqual({
        content: [
          {
            type: "text",
            text: expect.stringMatching(/^Tool "\w" failed \(error id [0-9a-f-]{36}\)$/),
          },
        ],
        isError: true,
      });
    }
  });

  it("turns a thrown McpError into a JSON-RPC error with its code and data", async () => {
    const mcp = server();
    mcp.tool("t", {}, () => {
      throw new McpError(ErrorCode.UrlElicitationRequired, "Authorize first", {
        elicitations: [],
      });
    });
    const response = await call(mcp, "tools/call", { name: "t" });
    expect(response).toMatchObject({
      jsonrpc: "2.0",
      error: { code: -32042, message: "Authorize first", data: { elicitations: [] } },
    });
  });

  it("answers an unknown tool with -32602", async () => {
    const failed = await error(server(), "tools/call", { name: "missing" });
    expect(failed).toEqual({ code: ErrorCode.InvalidParams, message: "Unknown tool: missing" });
  });

  it("answers a missing or non-string name with -32602", async () => {
    const mcp = server();
    expect((await error(mcp, "tools/call", {})).code).toBe(ErrorCode.InvalidParams);
    expect((await error(mcp, "tools/call", { name: 1 })).code).toBe(ErrorCode.InvalidParams);
  });

  it("does not find inherited properties by name", async () => {
    const failed = await error(server(), "tools/call", { name: "constructor" });
    expect(failed.code).toBe(ErrorCode.InvalidParams);
  });
});

describe("tool handles", () => {
  it("refuses a duplicate name", () => {
    const mcp = server();
    mcp.tool("t", {}, () => "a");
    expect(() => mcp.tool("t", {}, () => "b")).toThrow(/"t" is already registered/);
  });

  it("update() replaces the definition and the handler", async () => {
    const mcp = server();
    const tool = mcp.tool("t", { description: "old" }, () => "old");
    tool.update({ description: "new", input: z.object({ x: z.number() }) }, () => "new");
    const [listed] = (await result(mcp, "tools/list")).tools as Record<string, unknown>[];
    expect(listed).toMatchObject({ description: "new", inputSchema: { required: ["x"] } });
    expect(await callTool(mcp, "t", { x: 1 })).toEqual({
      content: [{ type: "text", text: "new" }],
    });
    expect((await callTool(mcp, "t", {})).isError).toBe(true);
  });

  it("a failed update() changes nothing: definition, schemas, scopes, handler", async () => {
    const mcp = server();
    const output = z.object({ n: z.number() });
    const tool = mcp.tool(
      "t",
      { description: "old", input: z.object({ x: z.number() }), output, scopes: ["read"] },
      ({ x }) => ({ n: x }),
    );
    const before = structuredClone(tool.definition);
    // The input compiles; the output is not an object schema, so the update throws late.
    expect(() =>
      tool.update(
        {
          description: "new",
          input: z.object({ y: z.string() }),
          output: z.string() as unknown as z.ZodObject,
          scopes: ["write"],
          taskSupport: "required",
        },
        () => ({ n: -1 }),
      ),
    ).toThrow(TypeError);
    expect(tool.definition).toEqual(before);
    expect(tool.scopes).toEqual(["read"]);
    expect(tool.taskSupport).toBe("forbidden");
    // Arguments are still checked against the old input schema, results against the old output.
    expect(await callTool(mcp, "t", { x: 2 })).toEqual({
      content: [{ type: "text", text: '{"n":2}' }],
      structuredContent: { n: 2 },
    });
    expect((await callTool(mcp, "t", { y: "a" })).isError).toBe(true);
  });

  it("update() without a handler keeps the handler", async () => {
    const mcp = server();
    const tool = mcp.tool("t", {}, () => "kept");
    tool.update({ title: "T" });
    expect(await callTool(mcp, "t")).toEqual({ content: [{ type: "text", text: "kept" }] });
  });

  it("disable() hides the tool from lists and calls; enable() brings it back", async () => {
    const mcp = server();
    const tool = mcp.tool("t", {}, () => "ok");
    tool.disable();
    expect((await result(mcp, "tools/list")).tools).toEqual([]);
    expect((await error(mcp, "tools/call", { name: "t" })).code).toBe(ErrorCode.InvalidParams);
    tool.enable();
    expect((await result(mcp, "tools/list")).tools).toHaveLength(1);
    expect(await callTool(mcp, "t")).toEqual({ content: [{ type: "text", text: "ok" }] });
  });

  it("remove() frees the name", async () => {
    const mcp = server();
    mcp.tool("t", {}, () => "first").remove();
    expect((await result(mcp, "tools/list")).tools).toEqual([]);
    mcp.tool("t", {}, () => "second");
    expect(await callTool(mcp, "t")).toEqual({ content: [{ type: "text", text: "second" }] });
  });
});
