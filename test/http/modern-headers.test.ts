/**
 * Tool parameters mirrored into `Mcp-Param-*` headers (`x-mcp-header`, 2026-07-28): what the
 * server requires and compares, and which annotations it refuses at registration.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type JsonObject, McpServer } from "../../src/index.ts";
import { errorOf, modernCall, modernHeaders, modernRequest, resultOf } from "./modern-support.ts";
import { type Json, rawRequest, start } from "./support.ts";

const SCHEMA: JsonObject = {
  type: "object",
  properties: {
    region: { type: "string", "x-mcp-header": "Region" },
    shard: { type: "integer", "x-mcp-header": "Shard" },
    dryRun: { type: "boolean", "x-mcp-header": "Dry-Run" },
    target: {
      type: "object",
      properties: { tenant: { type: "string", "x-mcp-header": "Tenant" } },
    },
    query: { type: "string" },
  },
  required: ["query"],
};

function build() {
  const mcp = new McpServer({ name: "headers", version: "1.0.0" });
  const runs: Json[] = [];
  mcp.tool("execute", { input: SCHEMA }, (args) => {
    runs.push(args);
    return `ran ${JSON.stringify(args)}`;
  });
  mcp.tool(
    "typed",
    { input: z.object({ region: z.string().meta({ "x-mcp-header": "Region" }) }) },
    ({ region }) => `typed ${region}`,
  );
  return { mcp, runs };
}

const base64 = (text: string) =>
  `=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode(text)))}?=`;

async function call(
  url: string,
  args: Json,
  headers: Record<string, string> = {},
  tool = "execute",
) {
  return modernCall(url, 1, "tools/call", { name: tool, arguments: args }, { headers });
}

async function expectMismatch(reply: Awaited<ReturnType<typeof call>>) {
  expect(reply.status).toBe(400);
  expect(errorOf(reply)).toMatchObject({ code: -32020 });
}

describe("x-mcp-header parameters", () => {
  it("publishes the annotations in the tool's inputSchema", async () => {
    const url = await start(build().mcp);
    const tools = resultOf(await modernCall(url, 1, "tools/list")).tools as Json[];
    expect(tools[0]?.inputSchema).toEqual(SCHEMA);
    expect(tools[1]?.inputSchema).toMatchObject({
      properties: { region: { type: "string", "x-mcp-header": "Region" } },
    });
  });

  it("runs a call whose headers mirror every annotated argument", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const args = {
      region: "us-west1",
      shard: 42,
      dryRun: true,
      target: { tenant: "acme" },
      query: "SELECT 1",
    };
    const reply = await call(url, args, {
      "mcp-param-region": "us-west1",
      "Mcp-Param-Shard": "42",
      "MCP-PARAM-DRY-RUN": "true",
      "mcp-param-tenant": "acme",
    });
    expect(reply.status).toBe(200);
    expect(resultOf(reply).isError).toBeUndefined();
    expect(runs).toEqual([args]);
  });

  it("refuses a call that lacks the header of a present argument, and runs nothing", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    await expectMismatch(await call(url, { region: "eu", query: "q" }));
    await expectMismatch(
      await call(
        url,
        { region: "eu", target: { tenant: "t" }, query: "q" },
        {
          "mcp-param-region": "eu",
        },
      ),
    );
    await expectMismatch(await call(url, { region: "eu" }, {}, "typed"));
    expect(runs).toEqual([]);
  });

  it("refuses a header that disagrees with its argument", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    await expectMismatch(
      await call(url, { region: "eu", query: "q" }, { "mcp-param-region": "us" }),
    );
    await expectMismatch(
      await call(url, { region: "eu", query: "q" }, { "mcp-param-region": "EU" }),
    );
    await expectMismatch(
      await call(url, { dryRun: false, query: "q" }, { "mcp-param-dry-run": "False" }),
    );
    await expectMismatch(
      await call(url, { dryRun: true, query: "q" }, { "mcp-param-dry-run": "1" }),
    );
    await expectMismatch(await call(url, { region: "eu" }, { "mcp-param-region": "us" }, "typed"));
    expect(runs).toEqual([]);
  });

  it("decodes the base64 sentinel form before comparing", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const ok = await call(
      url,
      { region: "Zürich ", query: "q" },
      { "mcp-param-region": base64("Zürich ") },
    );
    expect(ok.status).toBe(200);
    expect(runs).toEqual([{ region: "Zürich ", query: "q" }]);
    // A value that looks like the sentinel travels encoded too.
    const literal = "=?base64?literal?=";
    expect(
      (await call(url, { region: literal, query: "q" }, { "mcp-param-region": base64(literal) }))
        .status,
    ).toBe(200);
    await expectMismatch(
      await call(url, { region: "Zürich", query: "q" }, { "mcp-param-region": base64("Zurich") }),
    );
    await expectMismatch(
      await call(
        url,
        { region: "x", query: "q" },
        { "mcp-param-region": "=?base64?!!not base64!!?=" },
      ),
    );
    expect(runs).toHaveLength(2);
  });

  it("takes base64 only in its padded RFC 4648 form, which atob alone would not insist on", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    // "Hello" is SGVsbG8= ; atob("SGVsbG8") would decode it just the same.
    const padded = await call(
      url,
      { region: "Hello", query: "q" },
      {
        "mcp-param-region": "=?base64?SGVsbG8=?=",
      },
    );
    expect(padded.status).toBe(200);
    for (const header of [
      "=?base64?SGVsbG8?=",
      "=?base64?SGVsbG8==?=",
      "=?base64?SGVs bG8=?=",
      "=?base64?SGVs!!!bG8=?=",
      "=?base64?SGVsbG8-?=",
    ]) {
      await expectMismatch(
        await call(url, { region: "Hello", query: "q" }, { "mcp-param-region": header }),
      );
    }
    // Without both sentinel ends the value is literal, base64-looking or not.
    for (const literal of ["SGVsbG8=", "=?base64?SGVsbG8="]) {
      const reply = await call(
        url,
        { region: literal, query: "q" },
        { "mcp-param-region": literal },
      );
      expect(reply.status, literal).toBe(200);
    }
    expect(runs.map((args) => args.region)).toEqual(["Hello", "SGVsbG8=", "=?base64?SGVsbG8="]);
  });

  it("refuses a recognized header with an invalid value even when its argument is absent", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    await expectMismatch(await call(url, { query: "q" }, { "mcp-param-region": "=?base64?@@?=" }));
    await expectMismatch(await call(url, { query: "q" }, { "mcp-param-shard": "=?base64?SGk?=" }));
    expect(runs).toEqual([]);
  });

  it("compares integers numerically, in decimal notation only", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    for (const header of ["42", "42.0", "4.2e1"]) {
      const reply = await call(url, { shard: 42, query: "q" }, { "mcp-param-shard": header });
      expect(reply.status, header).toBe(200);
    }
    expect((await call(url, { shard: -7, query: "q" }, { "mcp-param-shard": "-7" })).status).toBe(
      200,
    );
    for (const header of ["43", "0x2A", "0b101010", "", "forty-two", "Infinity"]) {
      await expectMismatch(
        await call(url, { shard: 42, query: "q" }, { "mcp-param-shard": header }),
      );
    }
    expect(runs).toHaveLength(4);
  });

  it("needs no header for an absent or null argument", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    expect((await call(url, { query: "q" })).status).toBe(200);
    expect((await call(url, { target: {}, query: "q" })).status).toBe(200);
    // A header for an argument that is not there is not checked.
    expect((await call(url, { query: "q" }, { "mcp-param-region": "anything" })).status).toBe(200);
    expect(runs).toEqual([{ query: "q" }, { target: {}, query: "q" }, { query: "q" }]);
    // null: no header expected (the schema then refuses the value, as a tool error).
    const nulled = await call(url, { region: null, query: "q" });
    expect(nulled.status).toBe(200);
    expect(resultOf(nulled).isError).toBe(true);
  });

  it("checks no parameter headers for a tool that does not exist", async () => {
    const url = await start(build().mcp);
    const reply = await call(url, { region: "eu" }, { "mcp-param-region": "us" }, "missing");
    expect(errorOf(reply)).toMatchObject({ code: -32602 });
  });
});

describe("invalid x-mcp-header annotations", () => {
  const register = (properties: JsonObject) => () =>
    new McpServer({ name: "x", version: "1" }).tool(
      "bad",
      { input: { type: "object", properties } },
      () => "never",
    );

  it("are refused at registration", () => {
    const invalid: [string, JsonObject][] = [
      ["on an object property", { o: { type: "object", properties: {}, "x-mcp-header": "O" } }],
      ["on an array property", { a: { type: "array", items: {}, "x-mcp-header": "A" } }],
      ["on a number property", { n: { type: "number", "x-mcp-header": "N" } }],
      ["without a type", { u: { "x-mcp-header": "U" } }],
      ["with a space", { s: { type: "string", "x-mcp-header": "My Region" } }],
      ["with a delimiter", { s: { type: "string", "x-mcp-header": "Region:1" } }],
      ["with a non-ASCII letter", { s: { type: "string", "x-mcp-header": "Région" } }],
      ["with a line break", { s: { type: "string", "x-mcp-header": "Re\r\ngion" } }],
      ["empty", { s: { type: "string", "x-mcp-header": "" } }],
      ["not a string", { s: { type: "string", "x-mcp-header": 42 } }],
      [
        "used twice, whatever the case",
        {
          a: { type: "string", "x-mcp-header": "Region" },
          b: { type: "string", "x-mcp-header": "region" },
        },
      ],
      [
        "under a property's additionalProperties",
        { a: { type: "object", additionalProperties: { type: "string", "x-mcp-header": "A" } } },
      ],
      [
        "used twice at different depths",
        {
          a: { type: "string", "x-mcp-header": "Tenant" },
          b: { type: "object", properties: { c: { type: "string", "x-mcp-header": "TENANT" } } },
        },
      ],
    ];
    for (const [what, properties] of invalid) {
      expect(register(properties), what).toThrow(TypeError);
    }
  });

  it("are refused anywhere but a chain of properties keys", () => {
    const annotated = { type: "string", "x-mcp-header": "Region" };
    const registerSchema = (schema: JsonObject) => () =>
      new McpServer({ name: "x", version: "1" }).tool("bad", { input: schema }, () => "never");
    const object = (extra: JsonObject): JsonObject => ({
      type: "object",
      properties: {},
      ...extra,
    });
    const invalid: [string, JsonObject][] = [
      ["on the root", { type: "object", "x-mcp-header": "Root" }],
      ["under items", object({ properties: { list: { type: "array", items: { ...annotated } } } })],
      [
        "under items of an object",
        object({
          properties: {
            list: { type: "array", items: { type: "object", properties: { r: annotated } } },
          },
        }),
      ],
      [
        "under prefixItems",
        object({ properties: { t: { type: "array", prefixItems: [annotated] } } }),
      ],
      ["under anyOf", object({ anyOf: [{ properties: { r: annotated } }] })],
      ["under oneOf", object({ oneOf: [{ properties: { r: annotated } }] })],
      ["under allOf", object({ allOf: [{ properties: { r: annotated } }] })],
      ["under not", object({ not: { properties: { r: annotated } } })],
      ["under if", object({ if: { properties: { r: annotated } } })],
      // biome-ignore lint/suspicious/noThenProperty: "then" is a JSON Schema keyword here, not a thenable
      ["under then", object({ then: { properties: { r: annotated } } })],
      ["under else", object({ else: { properties: { r: annotated } } })],
      [
        "under $defs, reached by $ref",
        object({
          $defs: { region: annotated },
          properties: { r: { $ref: "#/$defs/region" } },
        }),
      ],
      ["under definitions", object({ definitions: { region: annotated } })],
      ["under additionalProperties", object({ additionalProperties: annotated })],
      ["under patternProperties", object({ patternProperties: { "^r": annotated } })],
      [
        "under dependentSchemas",
        object({ dependentSchemas: { a: { properties: { r: annotated } } } }),
      ],
      [
        "under a property's anyOf",
        object({ properties: { r: { anyOf: [annotated, { type: "null" }] } } }),
      ],
    ];
    for (const [what, schema] of invalid) {
      expect(registerSchema(schema), what).toThrow(/x-mcp-header/);
    }
    // A nested chain of properties is fine, and so is data that merely looks like one.
    const tool = new McpServer({ name: "x", version: "1" }).tool(
      "good",
      {
        input: object({
          properties: {
            a: { type: "object", properties: { b: { ...annotated } } },
            c: { type: "object", default: { "x-mcp-header": "NotAnAnnotation" } },
          },
          anyOf: [{ required: ["a"] }, { required: ["c"] }],
        }),
      },
      () => "ok",
    );
    expect(tool.headerParams).toEqual([{ name: "Region", path: ["a", "b"] }]);
  });

  it("are refused on update too, and the published definition stays as it was", async () => {
    const { mcp } = build();
    const tool = mcp.tools.get("typed")!;
    expect(() =>
      tool.update({
        input: {
          type: "object",
          properties: { r: { type: "number", "x-mcp-header": "R" } },
          required: ["r"],
        },
      }),
    ).toThrow(TypeError);
    const url = await start(mcp);
    const tools = resultOf(await modernCall(url, 1, "tools/list")).tools as Json[];
    expect(tools[1]).toMatchObject({
      name: "typed",
      inputSchema: { properties: { region: { "x-mcp-header": "Region" } } },
    });
    await expectMismatch(await call(url, { region: "eu" }, {}, "typed"));
    // Arguments are still checked against the schema that stayed published.
    const ok = await call(url, { region: "eu" }, { "mcp-param-region": "eu" }, "typed");
    expect(resultOf(ok)).toMatchObject({ content: [{ type: "text", text: "typed eu" }] });
  });
});

describe("header values outside visible ASCII", () => {
  it("are refused even when they would equal the argument", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const body = JSON.stringify(
      modernRequest(1, "tools/call", {
        name: "execute",
        arguments: { region: "Zürich", query: "q" },
      }),
    );
    // node:http sends "ü" as the single byte 0xFC, which the server reads back as "ü".
    const raw = await rawRequest(url, {
      headers: {
        ...modernHeaders("tools/call", { name: "execute" }),
        "mcp-param-region": "Zürich",
      },
      chunks: [body],
    });
    expect(raw.status).toBe(400);
    expect(JSON.parse(raw.body)).toMatchObject({ error: { code: -32020 } });
    const named = await rawRequest(url, {
      headers: modernHeaders("resources/read", { uri: "notes://ü" }),
      chunks: [JSON.stringify(modernRequest(2, "resources/read", { uri: "notes://ü" }))],
    });
    expect(named.status).toBe(400);
    expect(JSON.parse(named.body)).toMatchObject({ error: { code: -32020 } });
    expect(runs).toEqual([]);
  });
});
