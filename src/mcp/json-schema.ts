// Checks values against a raw JSON Schema (2020-12) given for a tool. Its own small walker
// rather than zod's `fromJSONSchema`: that converter builds on all of classic zod, about 14 KiB
// gzipped in a Worker, for schemas most servers never register. Keywords it does not evaluate
// make compilation throw, and the caller then checks the top-level type only. `format` is an
// annotation, as 2020-12's default vocabulary has it (zod's converter asserted some formats).

import { PortcullisError } from "../util/errors.ts";
import { isObject } from "./content.ts";
import type { JsonObject } from "./types.ts";

/**
 * A schema uses a keyword this validator does not evaluate (e.g. `if`, `dependentRequired`).
 * Internal: compileSchema catches it and falls back to checking the top-level type.
 */
export class UnsupportedSchemaError extends PortcullisError {
  declare readonly code: "ERR_UNSUPPORTED_SCHEMA";

  constructor(message: string) {
    super("ERR_UNSUPPORTED_SCHEMA", message);
    this.name = "UnsupportedSchemaError";
  }
}

type Issue = { path: readonly string[]; message: string };
/** Checks one value; returns it, with the `default`s of absent properties filled in. */
type Check = (value: unknown, path: readonly string[], issues: Issue[], depth: number) => unknown;

/** Keywords whose meaning this walker does not implement: the schema is published unchecked. */
const UNSUPPORTED = [
  "if",
  "then",
  "else",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "unevaluatedItems",
  "unevaluatedProperties",
  "additionalItems",
  "$dynamicRef",
  "$recursiveRef",
];
/** Values nested deeper than this (through a recursive `$ref`) are refused, not walked. */
const MAX_DEPTH = 64;

/** JSON text with sorted keys: equal for equal JSON values, whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function hasType(value: unknown, type: unknown): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

/** Compiles `schema`; `root` resolves `#/...` references, each compiled once (cycles too). */
function compile(schema: unknown, root: unknown, refs: Map<string, Check>): Check {
  if (schema === true) return (value) => value;
  if (schema === false) {
    return (value, path, issues) => {
      issues.push({ path, message: "no value is allowed here" });
      return value;
    };
  }
  if (!isObject(schema)) throw new UnsupportedSchemaError("a schema must be an object or boolean");
  for (const keyword of UNSUPPORTED) {
    if (Object.hasOwn(schema, keyword))
      throw new UnsupportedSchemaError(`${keyword} is not evaluated`);
  }
  const checks: Check[] = [];
  const sub = (node: unknown) => compile(node, root, refs);
  const fail = (test: (value: never) => boolean, message: string, type?: string) =>
    checks.push((value, path, issues) => {
      if ((type === undefined || hasType(value, type)) && test(value as never)) {
        issues.push({ path, message });
      }
      return value;
    });

  if (typeof schema.$ref === "string") checks.push(reference(schema.$ref, root, refs));
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    fail((value) => !types.some((type) => hasType(value, type)), `expected ${types.join(" or ")}`);
  }
  if (Array.isArray(schema.enum)) {
    const allowed = new Set(schema.enum.map(canonical));
    fail((value) => !allowed.has(canonical(value)), "not one of the allowed values");
  }
  if (Object.hasOwn(schema, "const")) {
    const expected = canonical(schema.const);
    fail((value) => canonical(value) !== expected, `expected ${expected}`);
  }
  numberChecks(schema, fail);
  stringChecks(schema, fail);
  arrayChecks(schema, fail, checks, sub);
  objectChecks(schema, fail, checks, sub);
  combinators(schema, checks, sub);
  return (value, path, issues, depth) => {
    if (depth > MAX_DEPTH) {
      issues.push({ path, message: "nested too deeply" });
      return value;
    }
    let result = value;
    for (const check of checks) result = check(result, path, issues, depth + 1);
    return result;
  };
}

function reference(ref: string, root: unknown, refs: Map<string, Check>): Check {
  const known = refs.get(ref);
  if (known) return known;
  if (!ref.startsWith("#") || (ref.length > 1 && !ref.startsWith("#/"))) {
    throw new UnsupportedSchemaError(`$ref ${ref} is not a local JSON pointer`);
  }
  let target: Check | undefined;
  refs.set(ref, (value, path, issues, depth) => target!(value, path, issues, depth));
  let node: unknown = root;
  for (const part of ref.slice(2).split("/").filter(Boolean)) {
    const key = pointerKey(part);
    node = isObject(node) && key !== undefined && Object.hasOwn(node, key) ? node[key] : undefined;
    if (node === undefined) throw new UnsupportedSchemaError(`$ref ${ref} resolves to nothing`);
  }
  target = compile(node, root, refs);
  return refs.get(ref)!;
}

/** One JSON pointer segment, percent-decoded (it sits in a URI fragment) and unescaped. */
function pointerKey(part: string): string | undefined {
  try {
    return decodeURIComponent(part).replaceAll("~1", "/").replaceAll("~0", "~");
  } catch {
    return undefined;
  }
}

type Fail = (test: (value: never) => boolean, message: string, type?: string) => void;

function regexOf(pattern: string): RegExp {
  try {
    return new RegExp(pattern, "u");
  } catch {
    throw new UnsupportedSchemaError(`pattern ${pattern} is not a valid regular expression`);
  }
}

function numberChecks(schema: JsonObject, fail: Fail): void {
  const { minimum, maximum, exclusiveMinimum: above, exclusiveMaximum: below } = schema;
  const step = schema.multipleOf;
  if (typeof minimum === "number")
    fail((v: number) => v < minimum, `must be >= ${minimum}`, "number");
  if (typeof maximum === "number")
    fail((v: number) => v > maximum, `must be <= ${maximum}`, "number");
  if (typeof above === "number") fail((v: number) => v <= above, `must be > ${above}`, "number");
  if (typeof below === "number") fail((v: number) => v >= below, `must be < ${below}`, "number");
  if (typeof step === "number" && step > 0) {
    const off = (v: number) => Math.abs(v / step - Math.round(v / step)) > 1e-9;
    fail(off, `must be a multiple of ${step}`, "number");
  }
}

function stringChecks(schema: JsonObject, fail: Fail): void {
  const { minLength, maxLength, pattern } = schema;
  const length = (v: string) => [...v].length;
  if (typeof minLength === "number") {
    fail(
      (v: string) => length(v) < minLength,
      `must have at least ${minLength} characters`,
      "string",
    );
  }
  if (typeof maxLength === "number") {
    fail(
      (v: string) => length(v) > maxLength,
      `must have at most ${maxLength} characters`,
      "string",
    );
  }
  if (typeof pattern === "string") {
    const regex = regexOf(pattern);
    fail((v: string) => !regex.test(v), `must match ${pattern}`, "string");
  }
}

function arrayChecks(
  schema: JsonObject,
  fail: Fail,
  checks: Check[],
  sub: (node: unknown) => Check,
): void {
  const { minItems, maxItems, uniqueItems, minContains, maxContains } = schema;
  if (typeof minItems === "number")
    fail((v: unknown[]) => v.length < minItems, `must have at least ${minItems} items`, "array");
  if (typeof maxItems === "number")
    fail((v: unknown[]) => v.length > maxItems, `must have at most ${maxItems} items`, "array");
  if (uniqueItems === true) {
    fail(
      (v: unknown[]) => new Set(v.map(canonical)).size !== v.length,
      "items must be unique",
      "array",
    );
  }
  const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems.map(sub) : [];
  const rest = schema.items === undefined ? undefined : sub(schema.items);
  if (prefix.length || rest) {
    checks.push((value, path, issues, depth) => {
      if (!Array.isArray(value)) return value;
      return value.map((item, index) => {
        const check = index < prefix.length ? prefix[index] : rest;
        return check ? check(item, [...path, String(index)], issues, depth) : item;
      });
    });
  }
  if (schema.contains !== undefined) {
    const contains = sub(schema.contains);
    const least = typeof minContains === "number" ? minContains : 1;
    const most = typeof maxContains === "number" ? maxContains : Number.POSITIVE_INFINITY;
    checks.push((value, path, issues, depth) => {
      if (!Array.isArray(value)) return value;
      const matches = value.filter((item) => {
        const found: Issue[] = [];
        contains(item, path, found, depth);
        return found.length === 0;
      }).length;
      if (matches < least || matches > most)
        issues.push({ path, message: "does not contain the expected items" });
      return value;
    });
  }
}

function objectChecks(
  schema: JsonObject,
  fail: Fail,
  checks: Check[],
  sub: (node: unknown) => Check,
): void {
  const { minProperties, maxProperties } = schema;
  const count = (v: JsonObject) => Object.keys(v).length;
  if (typeof minProperties === "number")
    fail(
      (v: JsonObject) => count(v) < minProperties,
      `must have at least ${minProperties} properties`,
      "object",
    );
  if (typeof maxProperties === "number")
    fail(
      (v: JsonObject) => count(v) > maxProperties,
      `must have at most ${maxProperties} properties`,
      "object",
    );
  const required = Array.isArray(schema.required)
    ? schema.required.filter((k) => typeof k === "string")
    : [];
  const properties = new Map(
    Object.entries(isObject(schema.properties) ? schema.properties : {}).map(([key, node]) => [
      key,
      {
        check: sub(node),
        fallback: isObject(node) && "default" in node ? node.default : undefined,
      },
    ]),
  );
  const patterns = Object.entries(
    isObject(schema.patternProperties) ? schema.patternProperties : {},
  ).map(([pattern, node]) => ({ regex: regexOf(pattern), check: sub(node) }));
  const additional =
    schema.additionalProperties === undefined ? undefined : sub(schema.additionalProperties);
  const names = schema.propertyNames === undefined ? undefined : sub(schema.propertyNames);
  if (!required.length && !properties.size && !patterns.length && !additional && !names) return;
  checks.push((value, path, issues, depth) => {
    if (!isObject(value)) return value;
    for (const key of required) {
      if (!Object.hasOwn(value, key)) issues.push({ path: [...path, key], message: "required" });
    }
    const entries = Object.keys(value).map((key): [string, unknown] => {
      const at = [...path, key];
      if (names) names(key, at, issues, depth);
      let item = value[key];
      const property = properties.get(key);
      if (property) item = property.check(item, at, issues, depth);
      const matching = patterns.filter(({ regex }) => regex.test(key));
      for (const { check } of matching) item = check(item, at, issues, depth);
      if (!property && !matching.length && additional) item = additional(item, at, issues, depth);
      return [key, item];
    });
    for (const [key, { fallback }] of properties) {
      if (fallback !== undefined && !Object.hasOwn(value, key))
        entries.push([key, structuredClone(fallback)]);
    }
    // fromEntries defines properties: a "__proto__" key stays an own property, never a prototype.
    return Object.fromEntries(entries);
  });
}

function combinators(schema: JsonObject, checks: Check[], sub: (node: unknown) => Check): void {
  const list = (keyword: string) => {
    const nodes = schema[keyword];
    if (nodes === undefined) return undefined;
    if (!Array.isArray(nodes) || !nodes.length)
      throw new UnsupportedSchemaError(`${keyword} must be a non-empty array`);
    return nodes.map(sub);
  };
  const matches = (check: Check, value: unknown, path: readonly string[], depth: number) => {
    const found: Issue[] = [];
    const result = check(value, path, found, depth);
    return found.length ? undefined : { result };
  };
  const allOf = list("allOf");
  if (allOf) {
    checks.push((value, path, issues, depth) => {
      let result = value;
      for (const check of allOf) result = check(result, path, issues, depth);
      return result;
    });
  }
  for (const keyword of ["anyOf", "oneOf"] as const) {
    const options = list(keyword);
    if (!options) continue;
    checks.push((value, path, issues, depth) => {
      const passed = options
        .map((check) => matches(check, value, path, depth))
        .filter((m) => m !== undefined);
      if (keyword === "anyOf" ? !passed.length : passed.length !== 1) {
        issues.push({
          path,
          message:
            keyword === "anyOf"
              ? "matches none of the allowed schemas"
              : "must match exactly one schema",
        });
        return value;
      }
      return passed[0]!.result;
    });
  }
  if (schema.not !== undefined) {
    const not = sub(schema.not);
    checks.push((value, path, issues, depth) => {
      if (matches(not, value, path, depth))
        issues.push({ path, message: "matches a schema it must not" });
      return value;
    });
  }
}

/**
 * Compiles a raw JSON Schema into a check that returns the value (with property defaults
 * filled in) or a message listing each problem as `path: message`. Throws
 * UnsupportedSchemaError for keywords it does not evaluate.
 */
export function compileJsonSchema(
  schema: JsonObject,
): (value: unknown) => { ok: true; value: unknown } | { ok: false; message: string } {
  const check = compile(schema, schema, new Map());
  return (value) => {
    const issues: Issue[] = [];
    const result = check(value, [], issues, 0);
    if (!issues.length) return { ok: true, value: result };
    const message = issues
      .map(({ path, message }) => (path.length ? `${path.join(".")}: ${message}` : message))
      .join("; ");
    return { ok: false, message };
  };
}
