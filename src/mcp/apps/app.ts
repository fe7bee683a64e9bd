/**
 * `uiApp(mcp, …)`: one MCP App, i.e. a `ui://` HTML resource and the tools that render in it
 * or that its view calls, registered on a server that then declares the Apps extension.
 */
import { isObject } from "../content.ts";
import type { Context } from "../context.ts";
import type { AccessCheck } from "../policy.ts";
import type { RegisteredResource } from "../resources.ts";
import type { SchemaInput } from "../schema.ts";
import type { McpServer } from "../server.ts";
import type { RegisteredTool, ToolConfig, ToolHandler } from "../tools.ts";
import type { Icon, JsonObject } from "../types.ts";
import {
  APP_MIME_TYPE,
  APPS_EXTENSION,
  checkVisibility,
  isUiUri,
  LEGACY_RESOURCE_URI_KEY,
  resourceMeta,
  type UiCsp,
  type UiPermission,
  type UiVisibility,
} from "./meta.ts";

export interface UiAppOptions {
  /** The view's address; must start with `ui://` (e.g. "ui://weather/dashboard"). */
  uri: string;
  /** Defaults to the URI. */
  name?: string;
  title?: string;
  description?: string;
  icons?: Icon[];
  /** The view: one HTML5 document, or a function of the reading request that makes it. */
  html: string | ((ctx: Context) => string | Promise<string>);
  /**
   * Origins the view may reach. Default: none, and hosts then apply their restrictive policy
   * (inline scripts and styles only, no network). Each entry must be an origin, checked here.
   */
  csp?: UiCsp;
  /** Browser capabilities the view asks for; hosts may or may not grant them. Default none. */
  permissions?: readonly UiPermission[];
  /** A dedicated sandbox origin, in the host's own format. */
  domain?: string;
  /** Whether the host should draw a border and background around the view. */
  prefersBorder?: boolean;
  /** Scopes needed to read the view (as for any resource). */
  scopes?: readonly string[];
  /** As for any resource: default true, a client_credentials caller cannot read it. */
  userRequired?: boolean;
  canAccess?: AccessCheck;
  /** Also send the deprecated flat `_meta["ui/resourceUri"]` on linked tools. Default true. */
  legacyKey?: boolean;
}

/** Servers on which the Apps extension is declared already. */
const declared = new WeakSet<McpServer>();

/** A tool of an app: any tool's options, plus who may call it. */
export type AppToolConfig<
  I extends SchemaInput | undefined,
  O extends SchemaInput | undefined,
> = ToolConfig<I, O> & {
  /**
   * Who the tool is for. ["model", "app"] (the default): the agent calls it and the view
   * renders the result. ["app"]: only the view calls it (refresh buttons, form posts); hosts
   * keep it out of the model's tool list. ["model"]: the view may not call it.
   */
  visibility?: readonly UiVisibility[];
};

/** One registered MCP App: its view resource, and a way to add tools linked to it. */
export class UiApp {
  readonly uri: string;
  readonly resource: RegisteredResource;
  readonly #server: McpServer;
  readonly #legacyKey: boolean;

  constructor(server: McpServer, options: UiAppOptions) {
    const where = `App ${JSON.stringify(options.uri)}`;
    if (!isUiUri(options.uri)) {
      throw new TypeError(`${where}: the view's uri must start with ui://`);
    }
    if (typeof options.html !== "string" && typeof options.html !== "function") {
      throw new TypeError(`${where}: html must be a string or a function returning one`);
    }
    const ui = resourceMeta(options, where);
    const meta: JsonObject | undefined = Object.keys(ui).length ? { ui } : undefined;
    this.uri = options.uri;
    this.#server = server;
    this.#legacyKey = options.legacyKey ?? true;
    const html = options.html;
    const uri = options.uri;
    this.resource = server.resource(
      uri,
      {
        name: options.name ?? uri,
        mimeType: APP_MIME_TYPE,
        ...(options.title !== undefined ? { title: options.title } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.icons !== undefined ? { icons: options.icons } : {}),
        // In the listing too, so a host can review the policy before it reads the view.
        ...(meta ? { _meta: meta } : {}),
        ...(options.scopes !== undefined ? { scopes: options.scopes } : {}),
        ...(options.userRequired !== undefined ? { userRequired: options.userRequired } : {}),
        ...(options.canAccess !== undefined ? { canAccess: options.canAccess } : {}),
      },
      async (_variables, ctx) => {
        const text = typeof html === "string" ? html : await html(ctx);
        if (typeof text !== "string") {
          throw new TypeError(`${where}: html() must return a string`);
        }
        return {
          contents: [{ uri, mimeType: APP_MIME_TYPE, text, ...(meta ? { _meta: meta } : {}) }],
        };
      },
    );
    // One declaration per server, however many apps it has (a second would throw).
    if (!declared.has(server)) {
      server.extension(APPS_EXTENSION, { settings: { mimeTypes: [APP_MIME_TYPE] } });
      declared.add(server);
    }
  }

  /** Registers a tool linked to this app's view (`_meta.ui.resourceUri`). */
  tool<
    I extends SchemaInput | undefined = undefined,
    O extends SchemaInput | undefined = undefined,
  >(name: string, config: AppToolConfig<I, O>, handler: ToolHandler<I, O>): RegisteredTool {
    const { visibility, ...rest } = config;
    const ui: JsonObject = { resourceUri: this.uri };
    if (visibility !== undefined) {
      ui.visibility = checkVisibility(visibility, `App tool ${JSON.stringify(name)}`);
    }
    const own = isObject(rest._meta) ? rest._meta : {};
    const _meta: JsonObject = { ...own, ui };
    if (this.#legacyKey) _meta[LEGACY_RESOURCE_URI_KEY] = this.uri;
    return this.#server.tool(name, { ...rest, _meta }, handler);
  }
}

/**
 * Registers an MCP App on a server: its `ui://` view, served as `text/html;profile=mcp-app`
 * with its CSP and permissions in `_meta.ui`, and the Apps extension in the server's
 * capabilities (both eras). Options are checked now; a bad origin or URI throws TypeError.
 *
 * ```ts
 * const counter = uiApp(mcp, { uri: "ui://counter/view", html: COUNTER_HTML });
 * counter.tool("show_counter", { description: "Shows the counter" }, () => `count: ${n}`);
 * counter.tool("increment", { visibility: ["app"] }, () => ({ count: ++n }));
 * ```
 */
export function uiApp(server: McpServer, options: UiAppOptions): UiApp {
  return new UiApp(server, options);
}

/** Whether the calling client declared that it renders MCP Apps (so UI tools make sense). */
export function clientSupportsApps(ctx: Context): boolean {
  const extensions = ctx.client.capabilities?.extensions;
  const settings = isObject(extensions) ? extensions[APPS_EXTENSION] : undefined;
  const types = isObject(settings) ? settings.mimeTypes : undefined;
  return Array.isArray(types) && types.includes(APP_MIME_TYPE);
}
