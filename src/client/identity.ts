/** What the client says about itself: its Implementation info and the capabilities it declares. */
import { APP_MIME_TYPE, APPS_EXTENSION } from "../mcp/apps/meta.ts";
import { isObject } from "../mcp/content.ts";
import type { Implementation, JsonObject } from "../mcp/types.ts";
import type { McpClientOptions } from "./options.ts";
import { TASKS_EXTENSION } from "./task-info.ts";

export function clientInfo(options: McpClientOptions): Implementation {
  const { name, version, title, description, websiteUrl, icons } = options;
  return {
    name,
    version,
    ...(title !== undefined && { title }),
    ...(description !== undefined && { description }),
    ...(websiteUrl !== undefined && { websiteUrl }),
    ...(icons !== undefined && { icons }),
  };
}

/**
 * The capabilities the client declares: at initialize (2025), or in a 2026-07-28 request's
 * `_meta`, where `tasks` adds the tasks extension. Each handler given is one capability.
 */
export function declaredCapabilities(
  options: McpClientOptions,
  modern: boolean,
  tasks = false,
): JsonObject {
  const handlers = options.handlers ?? {};
  const capabilities: JsonObject = { ...options.capabilities };
  const declared = isObject(capabilities.extensions) ? capabilities.extensions : {};
  const extensions: JsonObject = { ...declared, ...options.extensions };
  if (modern && (tasks || options.tasks)) extensions[TASKS_EXTENSION] = {};
  if (options.apps) extensions[APPS_EXTENSION] = { mimeTypes: [APP_MIME_TYPE] };
  if (Object.keys(extensions).length) capabilities.extensions = extensions;
  if (handlers.elicitation) {
    const modes = options.elicitationModes ?? ["form"];
    capabilities.elicitation = Object.fromEntries(modes.map((mode) => [mode, {}]));
  }
  if (handlers.sampling) capabilities.sampling = {};
  // 2026-07-28 has no roots/list_changed notification to promise.
  if (handlers.roots) capabilities.roots = modern ? {} : { listChanged: true };
  return capabilities;
}
