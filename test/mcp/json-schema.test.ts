import { describe, expect, it } from "vitest";
import { compileJsonSchema, UnsupportedSchemaError } from "../../src/mcp/json-schema.ts";

const failure = (result: ReturnType<ReturnType<typeof compileJsonSchema>>) =>
  result.ok ? undefined : result.message;

describe("compileJsonSchema", () => {
  it("checks types, integer included, and lists each problem with its path", () => {
    const check = compileJsonSchema({
      type: "object",
      properties: {
        n: { type: "integer" },
        x: { type: "number" },
        tags: { type: "array", items: { type: ["string", "null"] } },
      },
      required: ["n"],
    });
    expect(check({ n: 2, x: 1.5, tags: ["a", null] })).toEqual({
      ok: true,
      value: { n: 2, x: 1.5, tags: ["a", null] },
    });
    expect(failure(check({ n: 1.5, x: "1", tags: ["a", 3] }))).toBe(
      "n: expected integer; x: expected number; tags.1: expected string or null",
    );
    expect(failure(check({}))).toBe("n: required");
    expect(failure(check([]))).toBe("expected object");
  });

  it("enforces the numeric, string, array and object bounds", () => {
    const check = compileJsonSchema({
      type: "object",
      properties: {
        n: { type: "number", minimum: 1, exclusiveMaximum: 10, multipleOf: 0.5 },
        s: { type: "string", minLength: 2, maxLength: 3, pattern: "^[a-z]+$" },
        a: { type: "array", minItems: 1, maxItems: 2, uniqueItems: true },
        o: { type: "object", minProperties: 1, maxProperties: 1 },
      },
    });
    expect(check({ n: 9.5, s: "abc", a: [{ a: 1, b: 2 }], o: { k: 1 } }).ok).toBe(true);
    for (const bad of [
      { n: 0.5 },
      { n: 10 },
      { n: 1.25 },
      { s: "a" },
      { s: "abcd" },
      { s: "AB" },
      { a: [] },
      { a: [1, 2, 3] },
      // Equal JSON values in another key order are still duplicates.
      {
        a: [
          { a: 1, b: 2 },
          { b: 2, a: 1 },
        ],
      },
      { o: {} },
      { o: { a: 1, b: 2 } },
    ]) {
      expect(check(bad).ok, JSON.stringify(bad)).toBe(false);
    }
    // Lengths count characters (code points), not UTF-16 units.
    expect(check({ s: "😀😀" }).ok).toBe(false);
    expect(compileJsonSchema({ type: "string", maxLength: 2 })("😀😀").ok).toBe(true);
  });

  it("treats format as an annotation, as 2020-12 does by default", () => {
    const check = compileJsonSchema({ properties: { to: { type: "string", format: "email" } } });
    expect(check({ to: "not an address" })).toEqual({ ok: true, value: { to: "not an address" } });
  });

  it("checks enum and const by JSON value", () => {
    const check = compileJsonSchema({
      properties: { kind: { enum: ["a", { x: [1] }] }, v: { const: { b: 1, a: 2 } } },
    });
    expect(check({ kind: { x: [1] }, v: { a: 2, b: 1 } }).ok).toBe(true);
    expect(check({ kind: "c" }).ok).toBe(false);
    expect(check({ v: { a: 2 } }).ok).toBe(false);
  });

  it("allows other properties unless additionalProperties forbids or constrains them", () => {
    const open = compileJsonSchema({ type: "object", properties: { a: { type: "string" } } });
    expect(open({ a: "x", extra: 1 })).toEqual({ ok: true, value: { a: "x", extra: 1 } });
    const closed = compileJsonSchema({ properties: { a: {} }, additionalProperties: false });
    expect(failure(closed({ a: 1, b: 2 }))).toBe("b: no value is allowed here");
    const typed = compileJsonSchema({
      patternProperties: { "^x-": { type: "string" } },
      additionalProperties: { type: "number" },
      propertyNames: { maxLength: 5 },
    });
    expect(typed({ "x-a": "s", n: 1 }).ok).toBe(true);
    expect(typed({ "x-a": 1 }).ok).toBe(false);
    expect(typed({ n: "1" }).ok).toBe(false);
    expect(typed({ toolong: 1 }).ok).toBe(false);
  });

  it("checks tuples with prefixItems, and contains with its bounds", () => {
    const tuple = compileJsonSchema({
      type: "array",
      prefixItems: [{ type: "string" }, { type: "integer" }],
      items: false,
    });
    expect(tuple(["a", 1]).ok).toBe(true);
    expect(tuple([1, "a"]).ok).toBe(false);
    expect(failure(tuple(["a", 1, 2]))).toBe("2: no value is allowed here");
    const some = compileJsonSchema({ contains: { type: "integer" }, maxContains: 2 });
    expect(some(["a", 1]).ok).toBe(true);
    expect(some(["a"]).ok).toBe(false);
    expect(some([1, 2, 3]).ok).toBe(false);
  });

  it("combines with allOf, anyOf, oneOf and not", () => {
    const check = compileJsonSchema({
      allOf: [{ type: "object" }, { required: ["id"] }],
      properties: {
        id: { anyOf: [{ type: "string" }, { type: "integer", minimum: 0 }] },
        one: { oneOf: [{ type: "integer" }, { type: "number", minimum: 1 }] },
        not: { not: { type: "null" } },
      },
    });
    expect(check({ id: "a", one: 0, not: 1 }).ok).toBe(true);
    expect(check({ id: -1 }).ok).toBe(false);
    expect(check({ one: 1 }).ok).toBe(false); // no id (allOf)
    // 2 is an integer and a number >= 1: two branches match, oneOf fails.
    expect(check({ id: "a", one: 2 }).ok).toBe(false);
    expect(check({ id: "a", not: null }).ok).toBe(false);
  });

  it("follows local $ref, recursive ones too, and refuses runaway nesting", () => {
    const tree = compileJsonSchema({
      $defs: {
        node: { type: "object", properties: { children: { items: { $ref: "#/$defs/node" } } } },
      },
      $ref: "#/$defs/node",
      properties: { name: { type: "string" } },
    });
    expect(tree({ name: "root", children: [{ children: [{}] }] }).ok).toBe(true);
    expect(tree({ children: [{ children: [1] }] }).ok).toBe(false);
    let deep: unknown = {};
    for (let i = 0; i < 200; i++) deep = { children: [deep] };
    expect(failure(tree(deep))).toMatch(/nested too deeply/);
    const self = compileJsonSchema({ properties: { next: { $ref: "#" }, v: { type: "integer" } } });
    expect(self({ next: { next: { v: 1 } } }).ok).toBe(true);
    expect(self({ next: { next: { v: "x" } } }).ok).toBe(false);
  });

  it("fills in the default of an absent property, as zod's parse does", () => {
    const check = compileJsonSchema({
      properties: { times: { type: "integer", default: 1 }, tags: { default: ["a"] } },
    });
    const first = check({});
    expect(first).toEqual({ ok: true, value: { times: 1, tags: ["a"] } });
    // Each value gets its own copy of a default.
    const second = check({ times: 3 });
    expect(second).toEqual({ ok: true, value: { times: 3, tags: ["a"] } });
    if (first.ok && second.ok)
      expect((first.value as { tags: unknown }).tags).not.toBe(
        (second.value as { tags: unknown }).tags,
      );
  });

  it("reads own properties only, and keeps a __proto__ key an own property", () => {
    const check = compileJsonSchema({
      properties: { toString: { type: "string" } },
      required: ["toString"],
    });
    expect(check({}).ok).toBe(false);
    const parsed = JSON.parse('{"toString":"x","__proto__":{"polluted":true}}') as object;
    const result = check(parsed);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
      expect(Object.hasOwn(result.value as object, "__proto__")).toBe(true);
      expect((result.value as { polluted?: unknown }).polluted).toBeUndefined();
    }
  });

  it("refuses keywords it does not evaluate, bad patterns and non-local references", () => {
    for (const schema of [
      { if: { type: "object" }, else: { required: ["a"] } },
      { properties: { a: { dependentRequired: { a: ["b"] } } } },
      { $defs: { x: { unevaluatedProperties: false } }, $ref: "#/$defs/x" },
      { pattern: "(" },
      { $ref: "https://example.com/schema" },
      { $ref: "#anchor" },
      { $ref: "#/$defs/missing" },
      { $ref: "#/$defs/%E0%A4%A" },
      { anyOf: [] },
    ]) {
      expect(() => compileJsonSchema(schema), JSON.stringify(schema)).toThrow(
        UnsupportedSchemaError,
      );
    }
  });

  it("treats a property named like a keyword as a property", () => {
    const check = compileJsonSchema({
      properties: { if: { type: "string" }, not: { type: "integer" } },
    });
    expect(check({ if: "x", not: 1 }).ok).toBe(true);
    expect(check({ if: 1 }).ok).toBe(false);
  });
});
