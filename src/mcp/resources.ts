import type { Completer } from "./completion.ts";
import { isObject, toBase64 } from "./content.ts";
import type { Context } from "./context.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import type { Listing } from "./listing.ts";
import type { AccessCheck } from "./policy.ts";
import { Registration, type RegistrationHooks } from "./registration.ts";
import type {
  Annotations,
  Icon,
  JsonObject,
  ReadResourceResult,
  ResourceContents,
} from "./types.ts";
import { UriTemplate } from "./uri-template.ts";

export interface ResourceConfig {
  /** Defaults to the URI or template. */
  name?: string;
  title?: string;
  description?: string;
  mimeType?: string;
  size?: number;
  icons?: Icon[];
  annotations?: Annotations;
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
  /** Completion for template variables, by variable name. */
  complete?: Record<string, Completer>;
  /** Cache hints for its reads (2026-07-28), over the server's. */
  cache?: { ttlMs?: number; scope?: "public" | "private" };
  /** For a template: the concrete resources it stands for, added to resources/list. */
  list?: (ctx: Context) => ResourceInfo[] | Promise<ResourceInfo[]>;
}

/** A concrete resource as resources/list shows it. */
export interface ResourceInfo {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  size?: number;
  icons?: Icon[];
  annotations?: Annotations;
  _meta?: JsonObject;
}

type Contents =
  | string
  | Uint8Array
  | { text: string; mimeType?: string; uri?: string; _meta?: JsonObject }
  | { blob: string | Uint8Array; mimeType?: string; uri?: string; _meta?: JsonObject };

/** A string, bytes, `{ text }`, `{ blob }`, an array of those, or a full ReadResourceResult. */
export type ResourceReturn = Contents | Contents[] | ReadResourceResult;

export type ResourceHandler<V> = (
  variables: V,
  ctx: Context,
  uri: string,
) => ResourceReturn | Promise<ResourceReturn>;

type Operator = "+" | "#" | "." | "/" | ";" | "?" | "&";
type Names<E extends string> = E extends `${infer A},${infer B}` ? Names<A> | Names<B> : Clean<E>;
type Clean<N extends string> = N extends `${infer A}*`
  ? A
  : N extends `${infer A}:${string}`
    ? A
    : N;
/** Operators whose whole expression may be missing from a URI: named ones and prefixed ones. */
type OptionalOperator = ";" | "?" | "&" | "#" | "." | "/";
type Required<S extends string> = S extends `${string}{${infer E}}${infer Rest}`
  ?
      | (E extends `${OptionalOperator}${string}`
          ? never
          : E extends `${Operator}${infer N}`
            ? Names<N>
            : Names<E>)
      | Required<Rest>
  : never;
type Optional<S extends string> = S extends `${string}{${infer E}}${infer Rest}`
  ? (E extends `${OptionalOperator}${infer N}` ? Names<N> : never) | Optional<Rest>
  : never;

/**
 * The variables of an RFC 6570 template, typed from its text. `{var}` and `{+var}` are always
 * present; `{/var}`, `{.var}`, `{#var}` and query-style ones may be absent ("files" matches
 * `files{/path*}`).
 */
export type TemplateVariables<S extends string> = string extends S
  ? Record<string, string>
  : { [K in Required<S>]: string } & { [K in Optional<S>]?: string };

export class RegisteredResource extends Registration {
  readonly uri: string;
  readonly template: UriTemplate | undefined;
  definition!: JsonObject;
  config!: ResourceConfig;
  handler: ResourceHandler<Record<string, string>>;

  constructor(
    uri: string,
    config: ResourceConfig,
    handler: ResourceHandler<Record<string, string>>,
    hooks: RegistrationHooks,
  ) {
    super(hooks);
    this.uri = uri;
    this.template = UriTemplate.isTemplate(uri) ? new UriTemplate(uri) : undefined;
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

  #configure(config: ResourceConfig): void {
    this.config = config;
    const definition: JsonObject = this.template
      ? { uriTemplate: this.uri, name: config.name ?? this.uri }
      : { uri: this.uri, name: config.name ?? this.uri };
    for (const key of [
      "title",
      "description",
      "mimeType",
      "size",
      "icons",
      "annotations",
      "_meta",
    ] as const) {
      if (config[key] !== undefined) definition[key] = config[key];
    }
    if (this.template) delete definition.size;
    this.definition = definition;
  }

  update(config: ResourceConfig, handler?: ResourceHandler<Record<string, string>>): void {
    this.#configure(config);
    if (handler) this.handler = handler;
    this.changed();
  }

  /** Runs the handler for a URI this resource answers to. */
  async read(
    uri: string,
    variables: Record<string, string>,
    ctx: Context,
  ): Promise<ReadResourceResult> {
    const value: unknown = await this.handler(variables, ctx, uri);
    if (isObject(value) && Array.isArray(value.contents))
      return value as unknown as ReadResourceResult;
    const list = Array.isArray(value) ? value : [value];
    return { contents: list.map((item) => this.#contents(item as Contents, uri)) };
  }

  #contents(item: Contents, uri: string): ResourceContents {
    const mimeType = this.config.mimeType;
    if (typeof item === "string") return withMime({ uri, text: item }, mimeType);
    if (item instanceof Uint8Array) return withMime({ uri, blob: toBase64(item) }, mimeType);
    const base = { uri: item.uri ?? uri, ...(item._meta ? { _meta: item._meta } : {}) };
    if ("text" in item) return withMime({ ...base, text: item.text }, item.mimeType ?? mimeType);
    const blob = typeof item.blob === "string" ? item.blob : toBase64(item.blob);
    return withMime({ ...base, blob }, item.mimeType ?? mimeType);
  }
}

function withMime<T extends ResourceContents>(contents: T, mimeType: string | undefined): T {
  return mimeType === undefined ? contents : { ...contents, mimeType };
}

export function resourceNotFound(uri: string): McpError {
  return new McpError(ErrorCode.ResourceNotFound, `Resource not found: ${uri}`, { uri });
}

/** A resource that answers a URI, with the template variables the URI bound. */
export interface ResourceMatch {
  resource: RegisteredResource;
  variables: Record<string, string>;
  config: ResourceConfig;
}

/** The resource that answers a URI: a fixed one, else the first template that matches. */
export function findResource(
  resources: Listing<RegisteredResource>,
  templates: Listing<RegisteredResource>,
  uri: string,
): ResourceMatch | undefined {
  const fixed = resources.get(uri);
  if (fixed) return { resource: fixed, variables: {}, config: fixed.config };
  for (const template of templates.values()) {
    if (!template.enabled) continue;
    const variables = template.template!.match(uri);
    if (variables) return { resource: template, variables, config: template.config };
  }
  return undefined;
}
