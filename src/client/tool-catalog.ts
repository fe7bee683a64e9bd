/**
 * What listing the server's tools taught the client, for calling them: each tool's
 * outputSchema (to check results against), the arguments it mirrors into `Mcp-Param-*` headers
 * (2026-07-28), and whether it must run as a task (2025-11-25).
 */
import { isObject } from "../mcp/content.ts";
import type { CallToolResult, JsonObject } from "../mcp/types.ts";
import type { ClientCore } from "./core.ts";
import { OutputSchemaError, ProtocolError } from "./errors.ts";
import { type HeaderParam, paramHeaders, toolHeaderParams } from "./headers.ts";
import { OutputSchemas } from "./output-schema.ts";
import { DELIVERY_META } from "./task-info.ts";
import type { Tool } from "./types.ts";

export class ToolCatalog {
  readonly #core: ClientCore;
  readonly #outputs = new OutputSchemas();
  /** Tool arguments to mirror into Mcp-Param-* headers, by tool (2026-07-28). */
  readonly #headerParams = new Map<string, readonly HeaderParam[]>();
  /** The `execution.taskSupport` of each listed tool (2025-11-25). */
  readonly #taskSupport = new Map<string, string>();
  /** Tools listed as readOnlyHint or idempotentHint: a call to them may be sent again. */
  readonly #repeatable = new Set<string>();
  /** How each listed tool delivers its result (`_meta["portcullis/delivery"]`). */
  readonly #delivery = new Map<string, string>();

  constructor(core: ClientCore) {
    this.#core = core;
  }

  /** Forgets everything: a new connection may reach another server. */
  clear(): void {
    this.#outputs.clear();
    this.#headerParams.clear();
    this.#taskSupport.clear();
    this.#repeatable.clear();
    this.#delivery.clear();
  }

  /** The tool list changed: its schemas may have too, so nothing is checked against stale ones. */
  forgetSchemas(): void {
    this.#outputs.clear();
  }

  /**
   * Takes in one page of tools/list and returns the tools to offer: in 2026-07-28, a tool whose
   * `x-mcp-header` annotations break the spec's rules is left out, with an "invalid_tool" warning.
   */
  take(items: unknown[]): Tool[] {
    const tools = this.#core.modern ? items.filter((item) => this.#headerCheck(item)) : items;
    this.#outputs.remember(tools);
    for (const tool of tools) {
      if (!isObject(tool) || typeof tool.name !== "string") continue;
      const support = isObject(tool.execution) ? tool.execution.taskSupport : undefined;
      if (typeof support === "string") this.#taskSupport.set(tool.name, support);
      else this.#taskSupport.delete(tool.name);
      const hints = isObject(tool.annotations) ? tool.annotations : {};
      if (hints.readOnlyHint === true || hints.idempotentHint === true) {
        this.#repeatable.add(tool.name);
      } else this.#repeatable.delete(tool.name);
      const delivery = isObject(tool._meta) ? tool._meta[DELIVERY_META] : undefined;
      this.#delivery.set(tool.name, typeof delivery === "string" ? delivery : "reply");
    }
    return tools as Tool[];
  }

  /** The header arguments the tool was listed with, as a fingerprint to tell a change. */
  headerFingerprint(name: string): string {
    return JSON.stringify(this.#headerParams.get(name) ?? []);
  }

  /** The `Mcp-Param-*` headers of a call to `name` with `args`. */
  headers(name: string, args: JsonObject): Record<string, string> {
    return paramHeaders(this.#headerParams.get(name) ?? [], args);
  }

  /** Whether a call to the tool may be sent twice: it was listed read-only or idempotent. */
  repeatable(name: string): boolean {
    return this.#repeatable.has(name);
  }

  /** Whether the tool was listed at all (its delivery is known). */
  knows(name: string): boolean {
    return this.#delivery.has(name);
  }

  /** Whether the tool was listed as delivering its result by webhook only. */
  deliversByWebhook(name: string): boolean {
    return this.#delivery.get(name) === "webhook";
  }

  /** Whether the tool was listed as callable only as a task (2025-11-25). */
  requiresTask(name: string): boolean {
    return this.#taskSupport.get(name) === "required";
  }

  /** A tool's raw result, checked: its content list, and its outputSchema when it has one. */
  result(name: string | undefined, raw: JsonObject): CallToolResult {
    let content = raw.content;
    if (!Array.isArray(content)) {
      const message = `The result of tool "${name ?? "(a task)"}" has no content list`;
      if (this.#core.strict.toolResultContent) {
        throw new ProtocolError("ERR_TOOL_RESULT_CONTENT", message);
      }
      this.#core.warn({ code: "tool_result_content", message });
      content = [];
    }
    const result = { ...raw, content } as CallToolResult;
    if (!result.isError && name !== undefined) this.#checkOutput(name, result);
    return result;
  }

  /** Records a listed tool's header arguments; false for a definition to leave out. */
  #headerCheck(item: unknown): boolean {
    if (!isObject(item) || typeof item.name !== "string") return true;
    const checked = toolHeaderParams(item.inputSchema);
    if (!checked.ok) {
      this.#headerParams.delete(item.name);
      this.#core.warn({
        code: "invalid_tool",
        message: `Left out tool "${item.name}": ${checked.reason}`,
        detail: item,
      });
      return false;
    }
    if (checked.params.length) this.#headerParams.set(item.name, checked.params);
    else this.#headerParams.delete(item.name);
    return true;
  }

  #checkOutput(name: string, result: CallToolResult): void {
    const structured = result.structuredContent;
    const check =
      structured === undefined
        ? this.#outputs.has(name)
          ? { ok: false as const, reason: "the result has no structuredContent" }
          : undefined
        : this.#outputs.check(name, structured);
    if (check === undefined || check.ok === true) return;
    if (check.ok === "unchecked") {
      this.#core.warn({
        code: "output_schema_unchecked",
        message: `The outputSchema of tool "${name}" cannot be checked: ${check.reason}`,
      });
      return;
    }
    const error = new OutputSchemaError(name, check.reason, result);
    if (this.#core.strict.outputSchema) throw error;
    this.#core.warn({
      code: "output_schema",
      message: error.message,
      detail: { tool: name, reason: check.reason },
    });
  }
}
