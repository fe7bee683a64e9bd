import * as z from "zod/v4/core";
import type { Completer } from "./completion.ts";
import { isObject, text } from "./content.ts";
import type { Context } from "./context.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import type { AccessCheck } from "./policy.ts";
import { Registration, type RegistrationHooks } from "./registration.ts";
import { describeIssues, parseOwn } from "./schema.ts";
import type { ContentBlock, GetPromptResult, Icon, JsonObject, PromptMessage } from "./types.ts";

export interface PromptConfig<A extends z.$ZodObject | undefined> {
  title?: string;
  description?: string;
  /** Arguments as a zod object of string fields. */
  args?: A;
  icons?: Icon[];
  _meta?: JsonObject;
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
  /** Completion for arguments, by argument name. */
  complete?: Record<string, Completer>;
}

export type PromptArgs<A> = A extends z.$ZodObject ? z.output<A> : Record<string, never>;

/** A message whose content may be a plain string. */
export interface PromptMessageInput {
  role: "user" | "assistant";
  content: string | ContentBlock;
}

export type PromptReturn = string | PromptMessageInput[] | GetPromptResult;

export type PromptHandler<A> = (
  args: PromptArgs<A>,
  ctx: Context,
) => PromptReturn | Promise<PromptReturn>;

export class RegisteredPrompt extends Registration {
  readonly name: string;
  definition!: JsonObject;
  config!: PromptConfig<z.$ZodObject | undefined>;
  handler: PromptHandler<unknown>;

  constructor(
    name: string,
    config: PromptConfig<z.$ZodObject | undefined>,
    handler: PromptHandler<unknown>,
    hooks: RegistrationHooks,
  ) {
    super(hooks);
    this.name = name;
    this.handler = handler;
    this.#configure(config);
  }

  get scopes(): readonly string[] {
    return this.config.scopes ?? [];
  }

  get userRequired(): boolean {
    return this.config.userRequired ?? true;
  }

  get canAccess(): AccessCheck | undefined {
    return this.config.canAccess;
  }

  #configure(config: PromptConfig<z.$ZodObject | undefined>): void {
    this.config = config;
    const definition: JsonObject = { name: this.name };
    if (config.title !== undefined) definition.title = config.title;
    if (config.description !== undefined) definition.description = config.description;
    if (config.args) {
      definition.arguments = Object.entries(config.args._zod.def.shape).map(([name, schema]) => {
        const required = !z.safeParse(schema, undefined).success;
        const argument: JsonObject = { name, required };
        const description = z.globalRegistry.get(schema)?.description;
        if (description) argument.description = description;
        return argument;
      });
    }
    if (config.icons !== undefined) definition.icons = config.icons;
    if (config._meta !== undefined) definition._meta = config._meta;
    this.definition = definition;
  }

  update(config: PromptConfig<z.$ZodObject | undefined>, handler?: PromptHandler<unknown>): void {
    this.#configure(config);
    if (handler) this.handler = handler;
    this.changed();
  }

  async get(args: unknown, ctx: Context): Promise<GetPromptResult> {
    if (args !== undefined && args !== null && !isObject(args)) {
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: arguments must be an object");
    }
    let parsed: unknown = args ?? {};
    if (this.config.args) {
      const checked = parseOwn(this.config.args, parsed);
      if (!checked.success) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `Invalid arguments for prompt "${this.name}": ${describeIssues(checked.error)}`,
        );
      }
      parsed = checked.data;
    }
    const value = await this.handler(parsed as PromptArgs<unknown>, ctx);
    if (isObject(value) && Array.isArray(value.messages)) return value as GetPromptResult;
    const messages: PromptMessage[] =
      typeof value === "string"
        ? [{ role: "user", content: text(value) }]
        : (value as PromptMessageInput[]).map((message) => ({
            role: message.role,
            content: typeof message.content === "string" ? text(message.content) : message.content,
          }));
    // Both shorthand returns carry the configured description, not only the message list.
    const result: GetPromptResult = { messages };
    if (this.config.description !== undefined) result.description = this.config.description;
    return result;
  }
}
