/**
 * Publishes what an upstream offers on the gateway's own McpServer, under the upstream's
 * name: tools and prompts as `<name>_<original>`, resource URIs as `<name>+<original>`.
 * Everything then goes through the server's pipeline like a native registration: argument
 * checks, per-tool scopes with step-up, both protocol eras.
 */
import { z } from "zod";
import type { McpClient } from "../client/client.ts";
import type { Prompt, Resource, ResourceTemplate, Tool } from "../client/types.ts";
import type { Completer } from "../mcp/completion.ts";
import { isObject } from "../mcp/content.ts";
import type { Registration } from "../mcp/registration.ts";
import type { McpServer } from "../mcp/server.ts";
import { TASKS_EXTENSION } from "../mcp/tasks/record.ts";
import type {
  CallToolResult,
  GetPromptResult,
  JsonObject,
  ReadResourceResult,
} from "../mcp/types.ts";
import type { Logger } from "../util/log.ts";
import type { Upstream } from "./upstream.ts";

async function collect<T>(offered: boolean, items: () => AsyncIterable<T>): Promise<T[]> {
  const found: T[] = [];
  if (offered) for await (const item of items()) found.push(item);
  return found;
}

/** What an upstream offers, read from one connection. */
export interface Offer {
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  templates: ResourceTemplate[];
  completions: boolean;
  /**
   * Whether a 2026-07-28 upstream offers the tasks extension: it lists no per-tool support,
   * so any of its tools may become a task.
   */
  tasks: boolean;
}

export async function readOffer(client: McpClient): Promise<Offer> {
  const capabilities = client.serverCapabilities ?? {};
  return {
    tools: await collect("tools" in capabilities, () => client.tools()),
    prompts: await collect("prompts" in capabilities, () => client.prompts()),
    resources: await collect("resources" in capabilities, () => client.resources()),
    templates: await collect("resources" in capabilities, () => client.resourceTemplates()),
    completions: "completions" in capabilities,
    tasks: isObject(capabilities.extensions) && TASKS_EXTENSION in capabilities.extensions,
  };
}

/** The names of a URI template's variables (`{id}`, `{+path}`, `{?a,b}`), each once. */
export function templateVariables(template: string): string[] {
  const names = new Set<string>();
  for (const [, body] of template.matchAll(/\{([^}]*)\}/g)) {
    for (const part of body!.replace(/^[+#./;?&]/, "").split(",")) {
      const name = part.replace(/(\*|:\d+)$/, "");
      if (name) names.add(name);
    }
  }
  return [...names];
}

/**
 * How a forwarded tool may run as a task: as the upstream lists it (2025-11-25), or
 * "optional" for every tool of an upstream with the 2026-07-28 tasks extension.
 */
function taskSupportOf(tool: Tool, tasks: boolean): { taskSupport?: "optional" | "required" } {
  const execution = (tool as unknown as JsonObject).execution;
  const support = isObject(execution) ? execution.taskSupport : undefined;
  if (support === "optional" || support === "required") return { taskSupport: support };
  return tasks ? { taskSupport: "optional" } : {};
}

/** The definition fields copied from the upstream as they are. */
function described(item: Tool | Prompt | Resource | ResourceTemplate): JsonObject {
  const out: JsonObject = {};
  for (const key of ["title", "description", "icons", "_meta", "annotations", "mimeType"]) {
    const value = (item as unknown as JsonObject)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Maps the URIs in a read result back to the published ones. */
function published(upstream: Upstream, result: JsonObject): ReadResourceResult {
  const contents = Array.isArray(result.contents) ? result.contents : [];
  return {
    ...result,
    contents: contents.map((item) =>
      isObject(item) && typeof item.uri === "string"
        ? { ...item, uri: upstream.uriOf(item.uri) }
        : item,
    ),
  } as unknown as ReadResourceResult;
}

/** The registrations of one upstream, replaced as a whole when its offer changes. */
export class Catalog {
  readonly #server: McpServer;
  readonly #upstream: Upstream;
  readonly #logger: Logger;
  #registered: Registration[] = [];
  /** Whether the upstream answers completion/complete. */
  #completions = false;
  /** Whether the upstream offers the 2026-07-28 tasks extension. */
  #tasks = false;

  constructor(server: McpServer, upstream: Upstream, logger: Logger) {
    this.#server = server;
    this.#upstream = upstream;
    this.#logger = logger;
  }

  /** Publishes an offer in place of the previous one. */
  publish(offer: Offer): void {
    this.#completions = offer.completions;
    this.#tasks = offer.tasks;
    for (const registration of this.#registered) registration.remove();
    this.#registered = [];
    const add = (what: string, register: () => Registration) => {
      try {
        this.#registered.push(register());
      } catch (error) {
        this.#logger.warn("upstream item left out", { upstream: this.#upstream.name, what, error });
      }
    };
    for (const tool of offer.tools) add(`tool ${tool.name}`, () => this.#tool(tool));
    for (const prompt of offer.prompts) add(`prompt ${prompt.name}`, () => this.#prompt(prompt));
    for (const resource of offer.resources) {
      add(`resource ${resource.uri}`, () => this.#resource(resource.uri, resource));
    }
    for (const template of offer.templates) {
      add(`template ${template.uriTemplate}`, () => this.#resource(template.uriTemplate, template));
    }
  }

  #scopes(name?: string): string[] {
    const options = this.#upstream.options;
    return [...(options.requiredScopes ?? []), ...((name && options.scopes?.[name]) || [])];
  }

  #tool(tool: Tool): Registration {
    const upstream = this.#upstream;
    // A task at the gateway runs the forwarded call; the upstream's own task, if it needs
    // one, stays behind our client, so no upstream task id ever reaches a caller.
    const base = {
      ...described(tool),
      ...taskSupportOf(tool, this.#tasks),
      scopes: this.#scopes(tool.name),
    };
    const handler = async (args: unknown, ctx: Parameters<typeof upstream.forward>[0]) =>
      (await upstream.forward(
        ctx,
        "tools/call",
        { name: tool.name, arguments: (args ?? {}) as JsonObject },
        tool.name,
      )) as unknown as CallToolResult;
    const name = upstream.nameOf(tool.name);
    try {
      return this.#server.tool(
        name,
        {
          ...base,
          input: tool.inputSchema,
          ...(tool.outputSchema && { output: tool.outputSchema }),
        },
        handler,
      );
    } catch {
      // A schema our validator cannot compile: the upstream checks its own arguments.
      const registered = this.#server.tool(name, base, handler);
      registered.definition.inputSchema = tool.inputSchema;
      return registered;
    }
  }

  #prompt(prompt: Prompt): Registration {
    const upstream = this.#upstream;
    const shape: Record<string, z.ZodType> = {};
    for (const argument of prompt.arguments ?? []) {
      const field = argument.description ? z.string().describe(argument.description) : z.string();
      shape[argument.name] = argument.required ? field : field.optional();
    }
    return this.#server.prompt(
      upstream.nameOf(prompt.name),
      {
        ...described(prompt),
        args: z.object(shape),
        scopes: this.#scopes(),
        ...this.#completers(
          { type: "ref/prompt", name: prompt.name },
          (prompt.arguments ?? []).map((a) => a.name),
        ),
      },
      async (args, ctx) =>
        (await upstream.forward(
          ctx,
          "prompts/get",
          { name: prompt.name, arguments: args as JsonObject },
          prompt.name,
        )) as unknown as GetPromptResult,
    );
  }

  #resource(uri: string, item: Resource | ResourceTemplate): Registration {
    const upstream = this.#upstream;
    return this.#server.resource(
      upstream.uriOf(uri),
      {
        ...described(item),
        name: item.name,
        scopes: this.#scopes(),
        ...this.#completers({ type: "ref/resource", uri }, templateVariables(uri)),
      },
      async (_variables, ctx, requested) => {
        const original = upstream.originalUri(requested) ?? requested;
        const result = await upstream.forward(ctx, "resources/read", { uri: original }, original);
        return published(upstream, result);
      },
    );
  }

  /** Completion of each argument, asked of the upstream (when it offers completions). */
  #completers(ref: JsonObject, names: string[]): { complete?: Record<string, Completer> } {
    const upstream = this.#upstream;
    if (!this.#completions || names.length === 0) return {};
    const complete: Record<string, Completer> = {};
    for (const name of names) {
      complete[name] = async (value, { arguments: context, ctx }) => {
        const params: JsonObject = { ref, argument: { name, value } };
        if (Object.keys(context).length) params.context = { arguments: context };
        const what = String(ref.name ?? ref.uri);
        const result = await upstream.forward(ctx, "completion/complete", params, what);
        const values = isObject(result.completion) ? result.completion.values : undefined;
        return Array.isArray(values) ? values.filter((v) => typeof v === "string") : [];
      };
    }
    return { complete };
  }

  clear(): void {
    for (const registration of this.#registered) registration.remove();
    this.#registered = [];
  }
}
