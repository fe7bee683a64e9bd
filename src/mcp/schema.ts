// zod's core, not its classic API: zod and zod/mini schemas are both accepted, and a Worker
// that defines its schemas with zod/mini does not pull in classic zod. The namespace import lets
// bundlers drop zod's locales (about 260 KiB minified).
import * as z from "zod/v4/core";
import { compileJsonSchema, UnsupportedSchemaError } from "./json-schema.ts";
import type { JsonObject } from "./types.ts";

/** A zod (or zod/mini) schema, or a JSON Schema object given as is. */
export type SchemaInput = z.$ZodType | JsonObject;

export type Validation<T = unknown> = { ok: true; value: T } | { ok: false; message: string };

/** A schema prepared once at registration: its JSON Schema and a validator. */
export interface CompiledSchema {
  readonly json: JsonObject;
  validate(value: unknown): Validation;
}

export function isZodSchema(schema: unknown): schema is z.$ZodType {
  return typeof schema === "object" && schema !== null && "_zod" in schema;
}

/** Lists the problems in a zod error as one readable line per issue. */
export function describeIssues(error: z.$ZodError): string {
  return error.issues
    .map((issue) =>
      issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message,
    )
    .join("; ");
}

/** A JSON object or array as JSON.parse makes them (not a Date, Map or class instance). */
function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A deep copy whose objects have no prototype: only own properties can be read from it. */
function detached(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(detached);
  if (!isPlain(value)) return value;
  const copy = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) copy[key] = detached(value[key]);
  return copy;
}

/** A deep copy with ordinary objects again, for handlers that expect them. */
function attached(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(attached);
  if (!isPlain(value)) return value;
  // A loop, not Object.fromEntries over mapped pairs: no array per key on every call.
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // Assigning "__proto__" would set the copy's prototype: define it as the own key it was.
    if (key === "__proto__") {
      Object.defineProperty(copy, key, {
        value: attached(value[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else copy[key] = attached(value[key]);
  }
  return copy;
}

/**
 * Checks data from the wire against a zod schema by its own properties only. Zod reads every
 * property a schema names, inherited ones too: `{}` would pass a `toString` or `constructor`
 * argument of Object.prototype's (a function) to the schema, and on to the handler.
 */
export function parseOwn<T>(schema: z.$ZodType<T>, value: unknown): z.util.SafeParseResult<T> {
  const parsed = z.safeParse(schema, detached(value));
  return parsed.success ? { success: true, data: attached(parsed.data) as T } : parsed;
}

function fromZod(schema: z.$ZodType): (value: unknown) => Validation {
  return (value) => {
    const parsed = parseOwn(schema, value);
    return parsed.success
      ? { ok: true, value: parsed.data }
      : { ok: false, message: describeIssues(parsed.error) };
  };
}

/**
 * Compiles a schema for one direction of data flow. Zod schemas become JSON Schema 2020-12
 * (the `input` view for arguments, `output` for results); raw JSON Schema is published as
 * given and validated by compileJsonSchema when it evaluates every keyword used.
 */
export function compileSchema(schema: SchemaInput, io: "input" | "output"): CompiledSchema {
  if (isZodSchema(schema)) {
    const json = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" });
    return { json: json as JsonObject, validate: fromZod(schema) };
  }
  let validator: ((value: unknown) => Validation) | undefined;
  try {
    validator = compileJsonSchema(schema);
  } catch (error) {
    // A keyword the validator does not evaluate: publish the schema, check only the top-level type.
    if (!(error instanceof UnsupportedSchemaError)) throw error;
  }
  return {
    json: schema,
    validate:
      validator ??
      ((value) =>
        schema.type === "object" && (typeof value !== "object" || value === null)
          ? { ok: false, message: "expected an object" }
          : { ok: true, value }),
  };
}

/** The JSON Schema of a tool's arguments must describe an object. */
export function objectSchema(compiled: CompiledSchema, what: string): CompiledSchema {
  if (compiled.json.type !== "object") {
    throw new TypeError(`${what} must be an object schema (JSON Schema type "object")`);
  }
  return compiled;
}

export const EMPTY_OBJECT_SCHEMA: CompiledSchema = {
  json: { type: "object", properties: {} },
  validate: (value) => ({ ok: true, value: value ?? {} }),
};
