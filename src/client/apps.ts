/**
 * The client side of MCP Apps: which view a listed tool renders in, and that view read and
 * checked, ready for a host to put in a sandboxed iframe.
 */

import {
  APP_MIME_TYPE,
  toolUiUri,
  toolVisibility,
  type UiResourceMeta,
  type UiVisibility,
} from "../mcp/apps/meta.ts";
import { isObject } from "../mcp/content.ts";
import type { JsonObject, ReadResourceResult } from "../mcp/types.ts";
import { fromBase64 } from "../util/bytes.ts";
import type { RequestOptions } from "./connection.ts";
import { ProtocolError } from "./errors.ts";
import type { Resource, Tool } from "./types.ts";

/** A tool's view, as `McpClient.toolUi` reads it. */
export interface ToolUi {
  /** The tool it belongs to. */
  tool: Tool;
  /** The `ui://` resource. */
  uri: string;
  /** The HTML document to render (decoded when the server sent it as a blob). */
  html: string;
  /**
   * CSP, permissions, domain, border: the content item's `_meta.ui`, else the listing entry's
   * (the spec's order). A host builds the iframe's policy from it; empty means the strictest.
   */
  meta: UiResourceMeta;
  /** Who may call the tool: "model" (the agent), "app" (this view), or both. */
  visibility: UiVisibility[];
}

/** What readToolUi needs from a client (an McpClient is one). */
export interface ToolUiSource {
  tools(options?: RequestOptions): AsyncIterable<Tool>;
  readResource(uri: string, options?: RequestOptions): Promise<ReadResourceResult>;
  resources(options?: RequestOptions): AsyncIterable<Resource>;
}

/**
 * The MCP App view of a tool of a connected client (an McpClient): reads the view a tool (by
 * name, or as listed) names in `_meta.ui.resourceUri` (or the legacy flat key).
 * Undefined for a tool without a view, or not listed. A view that is not `text/html;profile=mcp-app` text
 * or base64 is a ProtocolError (ERR_CONTRACT): a host must not render it.
 */
export async function readToolUi(
  source: ToolUiSource,
  which: string | Tool,
  options: RequestOptions = {},
): Promise<ToolUi | undefined> {
  let tool = typeof which === "string" ? undefined : which;
  if (typeof which === "string") {
    for await (const each of source.tools(options)) if (each.name === which) tool = each;
  }
  const uri = tool && toolUiUri(tool);
  if (!tool || uri === undefined) return undefined;
  const result = await source.readResource(uri, options);
  const contents = Array.isArray(result.contents) ? result.contents : [];
  const item = contents.find((entry) => isObject(entry) && entry.uri === uri) ?? contents[0];
  if (!isObject(item) || item.mimeType !== APP_MIME_TYPE) {
    throw new ProtocolError(
      "ERR_CONTRACT",
      `The view ${uri} of tool "${tool.name}" is not ${APP_MIME_TYPE}`,
    );
  }
  const html = viewText(item as JsonObject, uri);
  let meta = uiMeta(item._meta);
  if (!meta) {
    for await (const resource of source.resources(options)) {
      if (resource.uri === uri) {
        meta = uiMeta(resource._meta);
        break;
      }
    }
  }
  return { tool, uri, html, meta: meta ?? {}, visibility: toolVisibility(tool) };
}

function viewText(item: JsonObject, uri: string): string {
  if (typeof item.text === "string") return item.text;
  if (typeof item.blob === "string") {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(fromBase64(item.blob));
    } catch {
      throw new ProtocolError("ERR_CONTRACT", `The view ${uri} is not base64 UTF-8 text`);
    }
  }
  throw new ProtocolError("ERR_CONTRACT", `The view ${uri} has neither text nor blob`);
}

function uiMeta(meta: unknown): UiResourceMeta | undefined {
  const ui = isObject(meta) ? meta.ui : undefined;
  return isObject(ui) ? (ui as UiResourceMeta) : undefined;
}
