/**
 * Whether a 2025 connection needs the GET stream, the channel for messages the server sends
 * on its own. Opening it costs a request and holds a connection open, on servers that often
 * never push, so it opens only when something would receive what comes on it.
 */
import { isObject } from "../mcp/content.ts";
import type { JsonObject } from "../mcp/types.ts";
import type { McpClientOptions } from "./options.ts";

function listChanged(capabilities: JsonObject, name: string): boolean {
  const capability = capabilities[name];
  return isObject(capability) && capability.listChanged === true;
}

/**
 * True when the client has a hook for something the server declared it may push (a list
 * change, a resource update, log messages), hears every notification or all progress, or
 * answers server requests (which a server may send outside any call of ours).
 */
export function wantsPush(options: McpClientOptions, capabilities: JsonObject): boolean {
  const handlers = options.handlers ?? {};
  if (options.onNotification || handlers.elicitation || handlers.sampling || handlers.roots) {
    return true;
  }
  // A JSON-mode server sends a request's progress on the GET stream.
  if (options.onProgress) return true;
  const resources = capabilities.resources;
  if (options.onResourceUpdated && isObject(resources) && resources.subscribe === true) return true;
  if (options.onToolsChanged && listChanged(capabilities, "tools")) return true;
  if (options.onPromptsChanged && listChanged(capabilities, "prompts")) return true;
  if (options.onResourcesChanged && listChanged(capabilities, "resources")) return true;
  return options.onLog !== undefined && isObject(capabilities.logging);
}
