import type * as z from "zod/v4/core";
import { PortcullisError } from "../util/errors.ts";
import { isCallToolResult, isObject, text, toContent } from "./content.ts";
import type { Context } from "./context.ts";
import type { AccessCheck } from "./policy.ts";
import { Registration, type RegistrationHooks } from "./registration.ts";
import {
  type CompiledSchema,
  compileSchema,
  EMPTY_OBJECT_SCHEMA,
  objectSchema,
  type SchemaInput,
} from "./schema.ts";
import type { TaskSupport } from "./tasks/record.ts";
import { DELIVERY_META } from "./tasks/webhook.ts";
import type { CallToolResult, Icon, JsonObject, ToolAnnotations } from "./types.ts";

export interface ToolConfig<I extends SchemaInput | undefined, O extends SchemaInput | undefined> {
  title?: string;
  description?: string;
  /** Arguments: a zod object, or a JSON Schema object. */
  input?: I;
  /** Structured result: a zod object or a JSON Schema; adds `outputSchema` and `structuredContent`. */
  output?: O;
  annotations?: ToolAnnotations;
  icons?: Icon[];
  _meta?: JsonObject;
  /** OAuth scopes a caller needs (enforced by the resource server). */
  scopes?: readonly string[];
  /**
   * Whether a signed-in user must stand behind the call. Default true: a client acting for
   * itself (a client_credentials token) can neither see nor use it. Set false for what
   * machine clients may use too.
   */
  userRequired?: boolean;
  /**
   * Who may see and use it, decided from the verified caller's token beyond scopes (roles,
   * groups, tenant: any claim). Only `true` grants. Lists leave out what the caller may not
   * access, and using it is answered as if it did not exist. With no verified caller (stdio,
   * an open endpoint) it is hidden.
   */
  canAccess?: AccessCheck;
  /**
   * Whether calls may run as tasks the client polls (published as `execution.taskSupport`).
   * "optional": under 2025-11-25 when the client asks; under 2026-07-28 when the call runs
   * long or the handler calls `ctx.startTask()`. "required": always as a task; clients that
   * cannot take one get an error. Default "forbidden".
   */
  taskSupport?: TaskSupport;
  /**
   * How the result reaches the caller. "webhook": every call is answered at once with a task,
   * and the result is POSTed, signed, to the webhook the call names in
   * `_meta["portcullis/webhook"]` (`{ url, secret }`); a call without one is refused. The task
   * stays pollable when the webhook's receiver is down. Implies `taskSupport: "required"` and
   * is listed as `_meta["portcullis/delivery"]`. Default "reply".
   */
  delivery?: ToolDelivery;
}

/** How a tool's result reaches its caller: in the reply, or by signed webhook. */
export type ToolDelivery = "reply" | "webhook";

export type ToolArgs<I> = I extends z.$ZodType ? z.output<I> : JsonObject;

/**
 * What a tool handler may return: a string, content block(s), a full CallToolResult, any
 * JSON value (sent as text), or, with an `output` schema, the structured object itself.
 */
export type ToolReturn<O> = O extends z.$ZodType
  ? z.input<O> | CallToolResult
  : O extends JsonObject
    ? JsonObject | CallToolResult
    : unknown;

export type ToolHandler<I, O> = (
  args: ToolArgs<I>,
  ctx: Context,
) => ToolReturn<O> | Promise<ToolReturn<O>>;

/** The task support a delivery implies; webhook delivery runs every call as a task. */
function deliveredSupport(
  tool: string,
  delivery: ToolDelivery,
  support: TaskSupport | undefined,
): TaskSupport | undefined {
  if (delivery !== "reply" && delivery !== "webhook") {
    throw new TypeError(`Tool "${tool}": delivery must be "reply" or "webhook"`);
  }
  if (delivery === "reply") return support;
  if (support !== undefined && support !== "required") {
    throw new TypeError(`Tool "${tool}": webhook delivery needs taskSupport "required"`);
  }
  return "required";
}

/** A registered tool; keep the handle to update or remove it at runtime. */
export class RegisteredTool extends Registration {
  readonly name: string;
  definition!: JsonObject;
  input!: CompiledSchema;
  output: CompiledSchema | undefined;
  scopes: readonly string[] = [];
  userRequired = true;
  canAccess: AccessCheck | undefined;
  taskSupport: TaskSupport = "forbidden";
  delivery: ToolDelivery = "reply";
  /** Arguments mirrored into `Mcp-Param-*` headers (`x-mcp-header`, 2026-07-28). */
  headerParams: readonly HeaderParam[] = [];
  handler: ToolHandler<unknown, unknown>;

  constructor(
    name: string,
    config: ToolConfig<SchemaInput | undefined, SchemaInput | undefined>,
    handler: ToolHandler<unknown, unknown>,
    hooks: RegistrationHooks,
  ) {
    super(hooks);
    this.name = name;
    this.handler = handler;
    this.#configure(config);
  }

  /**
   * Applies a configuration. Everything is built and checked first, and only then assigned,
   * so a configuration that throws (a bad schema or annotation) leaves the tool as it was.
   */
  #configure(config: ToolConfig<SchemaInput | undefined, SchemaInput | undefined>): void {
    const input = config.input
      ? objectSchema(compileSchema(config.input, "input"), `Input schema of tool "${this.name}"`)
      : EMPTY_OBJECT_SCHEMA;
    const output = config.output
      ? objectSchema(compileSchema(config.output, "output"), `Output schema of tool "${this.name}"`)
      : undefined;
    const params = headerParams(input.json, this.name);
    const delivery = config.delivery ?? "reply";
    const taskSupport = deliveredSupport(this.name, delivery, config.taskSupport);
    const definition: JsonObject = { name: this.name };
    if (config.title !== undefined) definition.title = config.title;
    if (config.description !== undefined) definition.description = config.description;
    definition.inputSchema = input.json;
    if (output) definition.outputSchema = output.json;
    if (taskSupport !== undefined) definition.execution = { taskSupport };
    if (config.annotations !== undefined) definition.annotations = config.annotations;
    if (config.icons !== undefined) definition.icons = config.icons;
    if (delivery === "webhook") definition._meta = { ...config._meta, [DELIVERY_META]: delivery };
    else if (config._meta !== undefined) definition._meta = config._meta;
    this.input = input;
    this.output = output;
    this.scopes = config.scopes ?? [];
    this.userRequired = config.userRequired ?? true;
    this.canAccess = config.canAccess;
    this.taskSupport = taskSupport ?? "forbidden";
    this.delivery = delivery;
    this.headerParams = params;
    this.definition = definition;
  }

  /** Replaces the tool's configuration and/or handler, and tells clients the list changed. */
  update(
    config: ToolConfig<SchemaInput | undefined, SchemaInput | undefined>,
    handler?: ToolHandler<unknown, unknown>,
  ): void {
    this.#configure(config);
    if (handler) this.handler = handler;
    this.changed();
  }

  /** Shapes a handler's return value into a CallToolResult, checking structured output. */
  toResult(value: unknown): CallToolResult {
    if (!this.output) {
      return isCallToolResult(value) ? value : { content: toContent(value) };
    }
    if (isCallToolResult(value) && (value.isError || "structuredContent" in value)) {
      return value.isError ? value : this.#checked(value.structuredContent, value);
    }
    return this.#checked(value, undefined);
  }

  #checked(structured: unknown, result: CallToolResult | undefined): CallToolResult {
    const checked = this.output!.validate(structured);
    if (!checked.ok || !isObject(checked.value)) {
      const reason = checked.ok ? "not an object" : checked.message;
      return errorResult(
        `Tool "${this.name}" returned output that does not match its schema: ${reason}`,
      );
    }
    // Publish what the handler returned; the schema's transforms are for validation only.
    const structuredContent = structured as JsonObject;
    return result
      ? { ...result, structuredContent }
      : { content: [text(JSON.stringify(structuredContent))], structuredContent };
  }
}

/**
 * A failure whose message is meant for the caller: thrown from a tool handler, it becomes an
 * `isError` result with that message. Anything else a handler throws is logged on the server,
 * and the caller gets a generic message with a correlation id.
 */
export class ToolError extends PortcullisError {
  declare readonly code: "ERR_TOOL";

  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_TOOL", message, options);
    this.name = "ToolError";
  }
}

/** Tool names the MCP specification allows (2025-11-25): 1 to 128 of A-Z a-z 0-9 _ - . */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Throws, at registration, for a tool name clients may refuse. */
export function checkToolName(name: string): void {
  if (typeof name === "string" && TOOL_NAME.test(name)) return;
  throw new TypeError(
    `Tool name ${JSON.stringify(name)} is not valid: use 1 to 128 letters, digits, "_", "-" or "." (MCP tool names), e.g. "get_weather"`,
  );
}

export function errorResult(message: string): CallToolResult {
  return { content: [text(message)], isError: true };
}

/** An argument a 2026-07-28 client mirrors into an `Mcp-Param-{name}` header. */
export interface HeaderParam {
  name: string;
  /** The chain of `properties` keys leading to the argument. */
  path: readonly string[];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Keywords whose value is one subschema. */
const ONE_SCHEMA = [
  "items",
  "additionalItems",
  "additionalProperties",
  "unevaluatedItems",
  "unevaluatedProperties",
  "contains",
  "propertyNames",
  "not",
  "if",
  "then",
  "else",
];
/** Keywords whose value is an array of subschemas (`items` in its draft-07 array form too). */
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems", "items"];
/** Keywords whose value maps names to subschemas, other than `properties`. */
const SCHEMA_MAPS = [
  "$defs",
  "definitions",
  "patternProperties",
  "dependentSchemas",
  "dependencies",
];

/**
 * Collects `x-mcp-header` annotations. An annotation is valid only on a primitive property
 * reached from the root through `properties` keys alone (not through items, composition,
 * conditionals, definitions or any other subschema), with a token name unique in the
 * schema; anything else makes the tool definition invalid, so registration throws.
 */
function headerParams(schema: JsonObject, tool: string): HeaderParam[] {
  const found: HeaderParam[] = [];
  /** `path` is the chain of `properties` keys to `node`; undefined once the chain is broken. */
  const walk = (node: unknown, path: string[] | undefined, where: string) => {
    if (!isObject(node)) return;
    const header = node["x-mcp-header"];
    if (header !== undefined) {
      if (path === undefined || path.length === 0) {
        throw new TypeError(
          `Tool "${tool}": x-mcp-header at ${where} is not on a property reachable through properties alone`,
        );
      }
      const key = path.join(".");
      if (typeof header !== "string" || !TOKEN.test(header)) {
        throw new TypeError(`Tool "${tool}": x-mcp-header on ${key} must be an HTTP token`);
      }
      if (!["string", "integer", "boolean"].includes(node.type as string)) {
        throw new TypeError(
          `Tool "${tool}": x-mcp-header on ${key} needs a string, integer or boolean`,
        );
      }
      if (found.some((p) => p.name.toLowerCase() === header.toLowerCase())) {
        throw new TypeError(`Tool "${tool}": x-mcp-header ${header} is used twice`);
      }
      found.push({ name: header, path });
    }
    if (isObject(node.properties)) {
      for (const [key, child] of Object.entries(node.properties)) {
        walk(child, path && [...path, key], `${where}/properties/${key}`);
      }
    }
    for (const keyword of ONE_SCHEMA) {
      if (isObject(node[keyword])) walk(node[keyword], undefined, `${where}/${keyword}`);
    }
    for (const keyword of SCHEMA_LISTS) {
      const list = node[keyword];
      if (Array.isArray(list)) {
        for (const [index, child] of list.entries()) {
          walk(child, undefined, `${where}/${keyword}/${index}`);
        }
      }
    }
    for (const keyword of SCHEMA_MAPS) {
      const map = node[keyword];
      if (!isObject(map)) continue;
      for (const [key, child] of Object.entries(map)) {
        walk(child, undefined, `${where}/${keyword}/${key}`);
      }
    }
  };
  walk(schema, [], "#");
  return found;
}
