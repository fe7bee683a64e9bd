import { z } from "zod";
import { isObject } from "../mcp/content.ts";
import { describeIssues, parseOwn } from "../mcp/schema.ts";
import type { JsonObject } from "../mcp/types.ts";

type Validator = z.ZodType | "uncompilable";

export type OutputCheck =
  | { ok: true }
  | { ok: false; reason: string }
  /** The schema uses JSON Schema features zod cannot express; nothing was checked. */
  | { ok: "unchecked"; reason: string };

/**
 * The outputSchema of each tool as last listed, compiled on first use: a result can only be
 * checked against what the client saw. A tools/list_changed notification forgets them all.
 */
export class OutputSchemas {
  readonly #schemas = new Map<string, { json: JsonObject; validator?: Validator }>();

  /** Takes in one page of tools/list. */
  remember(tools: readonly unknown[]): void {
    for (const tool of tools) {
      if (!isObject(tool) || typeof tool.name !== "string") continue;
      if (isObject(tool.outputSchema)) this.#schemas.set(tool.name, { json: tool.outputSchema });
      else this.#schemas.delete(tool.name);
    }
  }

  clear(): void {
    this.#schemas.clear();
  }

  has(tool: string): boolean {
    return this.#schemas.has(tool);
  }

  /** Checks structuredContent against the tool's schema; undefined when it was not listed with one. */
  check(tool: string, structured: unknown): OutputCheck | undefined {
    const entry = this.#schemas.get(tool);
    if (!entry) return undefined;
    if (entry.validator === undefined) {
      try {
        entry.validator = z.fromJSONSchema(entry.json as Parameters<typeof z.fromJSONSchema>[0]);
      } catch (error) {
        entry.validator = "uncompilable";
        return { ok: "unchecked", reason: error instanceof Error ? error.message : String(error) };
      }
    }
    if (entry.validator === "uncompilable")
      return { ok: "unchecked", reason: "uncompilable schema" };
    const parsed = parseOwn(entry.validator, structured);
    return parsed.success ? { ok: true } : { ok: false, reason: describeIssues(parsed.error) };
  }
}
