import type { Context, TaskControl } from "./context.ts";
import type { Era } from "./era/index.ts";
import type { ListenExtras } from "./events.ts";
import type { JsonRpcNotification } from "./jsonrpc.ts";
import type { EraName, Middleware } from "./middleware.ts";
import { type Exchange, type Peer, principalOf } from "./peer.ts";
import type { RegisteredTool } from "./tools.ts";
import type { JsonObject } from "./types.ts";
import { isModernVersion } from "./versions.ts";

/** Answers one method: what every core method and every extension method is. */
export type MethodHandler = (
  params: JsonObject,
  ctx: Context,
  exchange: Exchange,
) => Promise<JsonObject> | JsonObject;

/** Who a server's capabilities are being offered to. */
export interface ExtensionOffer {
  /** The protocol revision the capabilities are for. */
  readonly version: string;
  readonly era: EraName;
  /** Whether the caller carries a verified token. */
  readonly authenticated: boolean;
}

/** A method an extension answers: a handler, or a handler and the eras it exists in. */
export type ExtensionMethod = MethodHandler | { handler: MethodHandler; eras?: readonly EraName[] };

/**
 * A `tools/call` an extension takes over (the tasks extension runs calls as tasks): the
 * exchange the handler talks through, and the wrapper the handler runs inside.
 */
export interface ToolCallRun extends TaskControl {
  readonly exchange: Exchange;
  run(handler: () => Promise<JsonObject> | JsonObject): Promise<JsonObject>;
  /** The run is over without a result (the client answers a multi round-trip round later). */
  release(error: Error): void;
}

/** What an extension adds to a server; every part is optional. */
export interface ExtensionConfig {
  /**
   * The settings object declared under `capabilities.extensions[id]` (SEP-2133, both eras):
   * an object, or a function of who asks that returns undefined to leave the extension out.
   * Default `{}`: always declared, no settings.
   */
  settings?: JsonObject | ((offer: ExtensionOffer) => JsonObject | undefined);
  /**
   * Core capabilities to merge instead, in revisions that knew the feature before it was an
   * extension (the 2025-11-25 `tasks` capability). Called before `settings`; when it returns
   * an object, that is what is declared and `settings` is not consulted.
   */
  capabilities?: (offer: ExtensionOffer) => JsonObject | undefined;
  /** Methods the extension answers, through the same middleware as every core method. */
  methods?: Record<string, ExtensionMethod>;
  /** Notifications from the client the extension takes; unknown ones are ignored. */
  notifications?: Record<string, (params: JsonObject, peer: Peer) => void>;
  /** Middleware around every request, added after the access rules in registration order. */
  middleware?: Middleware;
  /** Rewrites a listed tool's definition (e.g. adds `_meta`); return it unchanged to keep it. */
  tool?: (definition: JsonObject, tool: RegisteredTool, offer: ExtensionOffer) => JsonObject;
  /**
   * Takes part in a `subscriptions/listen` stream (2026-07-28): from the requested filter,
   * the entries it agrees to (merged into the acknowledgement) and the topics of its events
   * the stream receives; only events of the caller's own principal are delivered. Throw an
   * `McpError` to refuse the stream.
   */
  listen?: (
    filter: JsonObject,
    exchange: Exchange,
  ) => { accepted: JsonObject; topics: readonly string[] } | undefined;
  /**
   * Takes over a `tools/call`: the run, once ready; undefined (synchronously, so an ordinary
   * call costs no turn) leaves it an ordinary call. A rejection is the call's error.
   */
  toolCall?: (
    params: JsonObject,
    exchange: Exchange,
    inline: Exchange,
  ) => Promise<ToolCallRun> | undefined;
}

/** One registered extension. */
export interface Extension {
  readonly id: string;
  readonly config: ExtensionConfig;
}

/** SEP-2133 identifiers: `{vendor-prefix}/{name}`, the prefix a dotted name. */
const EXTENSION_ID =
  /^[a-zA-Z][a-zA-Z0-9-]*(\.[a-zA-Z0-9-]+)*\/[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/;

/** Who is being offered capabilities, from a revision and whether the caller is known. */
export function offerFor(version: string, authenticated: boolean): ExtensionOffer {
  return { version, era: isModernVersion(version) ? "stateless" : "session", authenticated };
}

/**
 * The extensions of one server: what they declare, the methods and notifications they add,
 * and their hooks on tool listings and tool calls. Validated as they are added.
 */
export class Extensions {
  readonly #list: Extension[] = [];
  readonly #methods = new Map<string, { handler: MethodHandler; eras: readonly EraName[] }>();
  readonly #notifications = new Map<string, (params: JsonObject, peer: Peer) => void>();
  readonly #reserved: (method: string) => boolean;

  /** `reserved` says which method names the core already answers. */
  constructor(reserved: (method: string) => boolean) {
    this.#reserved = reserved;
  }

  add(id: string, config: ExtensionConfig): Extension {
    if (!EXTENSION_ID.test(id)) {
      throw new TypeError(`Extension id "${id}" is not of the form vendor-prefix/name`);
    }
    if (this.#list.some((extension) => extension.id === id)) {
      throw new TypeError(`Extension "${id}" is already registered`);
    }
    const methods = Object.entries(config.methods ?? {});
    for (const [method] of methods) {
      if (this.#reserved(method) || this.#methods.has(method)) {
        throw new TypeError(`Extension "${id}": method "${method}" is already answered`);
      }
    }
    for (const [method] of Object.entries(config.notifications ?? {})) {
      if (this.#notifications.has(method)) {
        throw new TypeError(`Extension "${id}": notification "${method}" is already taken`);
      }
    }
    for (const [method, entry] of methods) {
      const { handler, eras } =
        typeof entry === "function" ? { handler: entry, eras: undefined } : entry;
      this.#methods.set(method, { handler, eras: eras ?? ["session", "stateless"] });
    }
    for (const [method, take] of Object.entries(config.notifications ?? {})) {
      this.#notifications.set(method, take);
    }
    const extension: Extension = { id, config };
    this.#list.push(extension);
    return extension;
  }

  get size(): number {
    return this.#list.length;
  }

  /** The handler of an extension method in an era, if there is one. */
  method(method: string, era: Era): MethodHandler | undefined {
    const entry = this.#methods.get(method);
    return entry?.eras.includes(era.name) ? entry.handler : undefined;
  }

  /** Delivers a client notification to the extension that takes it; false when none does. */
  notify(notification: JsonRpcNotification, peer: Peer): boolean {
    const take = this.#notifications.get(notification.method);
    if (!take) return false;
    take(notification.params ?? {}, peer);
    return true;
  }

  /** Adds what the extensions declare to `capabilities` for this offer. */
  declare(capabilities: JsonObject, offer: ExtensionOffer): void {
    let extensions: JsonObject | undefined;
    for (const { id, config } of this.#list) {
      const core = config.capabilities?.(offer);
      if (core) {
        Object.assign(capabilities, core);
        continue;
      }
      const settings =
        typeof config.settings === "function" ? config.settings(offer) : (config.settings ?? {});
      if (settings) (extensions ??= {})[id] = settings;
    }
    if (extensions) capabilities.extensions = extensions;
  }

  /** Whether any extension rewrites tool definitions. */
  get rewritesTools(): boolean {
    return this.#list.some((extension) => extension.config.tool !== undefined);
  }

  /** A listed tool's definition after every extension's rewrite. */
  tool(definition: JsonObject, tool: RegisteredTool, offer: ExtensionOffer): JsonObject {
    let current = definition;
    for (const { config } of this.#list) {
      if (config.tool) current = config.tool(current, tool, offer);
    }
    return current;
  }

  /** What the extensions add to a subscriptions/listen stream; undefined when nothing. */
  listen(filter: JsonObject, exchange: Exchange): ListenExtras | undefined {
    let extras: ListenExtras | undefined;
    for (const { config } of this.#list) {
      const part = config.listen?.(filter, exchange);
      if (!part) continue;
      extras ??= { accepted: {}, topics: new Set(), owner: principalOf(exchange.auth) };
      Object.assign(extras.accepted, part.accepted);
      for (const topic of part.topics) (extras.topics as Set<string>).add(topic);
    }
    return extras;
  }

  /** The run of the first extension that takes over a tools/call; undefined when none does. */
  toolCall(
    params: JsonObject,
    exchange: Exchange,
    inline: Exchange,
  ): Promise<ToolCallRun> | undefined {
    for (const { config } of this.#list) {
      const run = config.toolCall?.(params, exchange, inline);
      if (run) return run;
    }
    return undefined;
  }
}
