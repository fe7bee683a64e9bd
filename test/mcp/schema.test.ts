import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  compileSchema,
  describeIssues,
  EMPTY_OBJECT_SCHEMA,
  isZodSchema,
  objectSchema,
} from "../../src/mcp/schema.ts";

describe("isZodSchema", () => {
  it("tells zod schemas from JSON Schema objects", () => {
    expect(isZodSchema(z.object({}))).toBe(true);
    expect(isZodSchema(z.string())).toBe(true);
    expect(isZodSchema({ type: "object" })).toBe(false);
    expect(isZodSchema(null)).toBe(false);
    expect(isZodSchema("z")).toBe(false);
  });
});

describe("compileSchema with zod", () => {
  const schema = z.object({
    name: z.string().describe("Who"),
    count: z.number().int().min(0).default(1),
    when: z.string().transform((value) => value.length),
  });

  it("publishes JSON Schema 2020-12", () => {
    const { json } = compileSchema(schema, "input");
    expect(json.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(json.type).toBe("object");
    expect(json.properties).toMatchObject({ name: { type: "string", description: "Who" } });
  });

  it("uses the input view for arguments: defaulted fields are optional", () => {
    expect(compileSchema(schema, "input").json.required).toEqual(["name", "when"]);
  });

  it("uses the output view for results: defaulted fields are always present", () => {
    const output = z.object({ id: z.string(), tags: z.array(z.string()).default([]) });
    expect(compileSchema(output, "output").json.required).toEqual(["id", "tags"]);
  });

  it("does not throw on types JSON Schema cannot express", () => {
    const odd = z.object({ at: z.date(), big: z.bigint() });
    expect(() => compileSchema(odd, "output")).not.toThrow();
    expect(compileSchema(odd, "output").json.type).toBe("object");
  });

  it("validates with zod and returns the parsed value", () => {
    const compiled = compileSchema(schema, "input");
    expect(compiled.validate({ name: "a", when: "abc" })).toEqual({
      ok: true,
      value: { name: "a", count: 1, when: 3 },
    });
    const failed = compiled.validate({ name: 1, count: -1, when: "x" });
    expect(failed.ok).toBe(false);
    if (!failed.ok) {
      expect(failed.message).toMatch(/name: /);
      expect(failed.message).toMatch(/count: /);
    }
  });
});

describe("compileSchema with zod, on hostile keys", () => {
  it("hands a wire __proto__ key on as an own property, never as the value's prototype", () => {
    const { validate } = compileSchema(z.object({ tags: z.unknown() }), "input");
    const wire = JSON.parse('{"tags":{"__proto__":{"polluted":true},"a":1}}') as unknown;
    const result = validate(wire);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const tags = (result.value as { tags: Record<string, unknown> }).tags;
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
    expect(Object.hasOwn(tags, "__proto__")).toBe(true);
    expect((tags as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(tags)).toEqual(["__proto__", "a"]);
  });

  it("reads own properties only: an inherited name is missing, not Object.prototype's", () => {
    const { validate } = compileSchema(z.object({ toString: z.string() }), "input");
    expect(validate({}).ok).toBe(false);
  });
});

describe("compileSchema with raw JSON Schema", () => {
  it("publishes the object it was given, untouched", () => {
    const raw = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $id: "https://example.com/args",
      type: "object",
      $defs: { id: { $anchor: "idDef", type: "string", pattern: "^[a-z]+$" } },
      properties: { id: { $ref: "#/$defs/id" }, kind: { enum: ["a", "b"] }, a: {}, b: {} },
      // The wider 2020-12 vocabulary of SEP-2106, which zod's converter cannot all express.
      allOf: [{ anyOf: [{ required: ["a"] }, { required: ["b"] }] }],
      if: { properties: { kind: { const: "a" } } },
      // biome-ignore lint/suspicious/noThenProperty: "then" is a JSON Schema keyword here, not a thenable
      then: { required: ["a"] },
      else: { required: ["b"] },
      "x-vendor": { keep: true },
    };
    const copy = structuredClone(raw);
    const compiled = compileSchema(raw, "input");
    expect(compiled.json).toEqual(copy);
    expect(raw).toEqual(copy);
  });

  it("validates through zod's converter when it can", () => {
    const compiled = compileSchema(
      {
        type: "object",
        properties: { n: { type: "integer", maximum: 10 }, s: { enum: ["a", "b"] } },
        required: ["n"],
        additionalProperties: false,
      },
      "input",
    );
    expect(compiled.validate({ n: 3, s: "a" })).toEqual({ ok: true, value: { n: 3, s: "a" } });
    expect(compiled.validate({ n: 11 }).ok).toBe(false);
    expect(compiled.validate({ n: 1, s: "c" }).ok).toBe(false);
    expect(compiled.validate({ n: 1, other: 1 }).ok).toBe(false);
    expect(compiled.validate({}).ok).toBe(false);
  });

  it("falls back to a top-level object check when zod cannot express the schema", () => {
    const compiled = compileSchema(
      { type: "object", dependentRequired: { a: ["b"] }, properties: { a: { type: "string" } } },
      "input",
    );
    expect(compiled.validate({ a: 1 })).toEqual({ ok: true, value: { a: 1 } });
    expect(compiled.validate("text")).toEqual({ ok: false, message: "expected an object" });
    expect(compiled.validate(null).ok).toBe(false);
  });
});

describe("objectSchema", () => {
  it("accepts object schemas and refuses others with the given name", () => {
    const object = compileSchema(z.object({}), "input");
    expect(objectSchema(object, "X")).toBe(object);
    expect(() => objectSchema(compileSchema(z.string(), "input"), "Input of t")).toThrow(
      'Input of t must be an object schema (JSON Schema type "object")',
    );
    expect(() => objectSchema(compileSchema({ anyOf: [] }, "input"), "Y")).toThrow(TypeError);
  });
});

describe("describeIssues", () => {
  it("puts one issue a clause, with its path", () => {
    const parsed = z
      .object({ a: z.object({ b: z.string() }), c: z.number() })
      .safeParse({ a: { b: 1 }, c: "x" });
    expect(parsed.success).toBe(false);
    if (!parsed.success) {
      const text = describeIssues(parsed.error);
      const clauses = text.split("; ");
      expect(clauses).toHaveLength(2);
      expect(clauses[0]).toMatch(/^a\.b: /);
      expect(clauses[1]).toMatch(/^c: /);
    }
    const top = z.string().safeParse(1);
    expect(top.success).toBe(false);
    // A top-level issue has no path to prefix: the message alone.
    if (!top.success) expect(describeIssues(top.error)).toBe(top.error.issues[0]!.message);
  });
});

describe("EMPTY_OBJECT_SCHEMA", () => {
  it("publishes an empty object schema and passes arguments through", () => {
    expect(EMPTY_OBJECT_SCHEMA.json).toEqual({ type: "object", properties: {} });
    expect(EMPTY_OBJECT_SCHEMA.validate({ a: 1 })).toEqual({ ok: true, value: { a: 1 } });
    expect(EMPTY_OBJECT_SCHEMA.validate(undefined)).toEqual({ ok: true, value: {} });
  });
});
