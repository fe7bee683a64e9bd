/**
 * Extensions a server declares in its capabilities (SEP-2133), by identifier, with their
 * settings. Kept beside the server rather than in it, so a helper such as the Apps one can
 * declare its extension without the server knowing the helper.
 */
import type { JsonObject } from "./types.ts";

const declared = new WeakMap<object, Map<string, JsonObject>>();

/** Declares (or replaces the settings of) an extension on a server. */
export function declareExtension(server: object, id: string, settings: JsonObject = {}): void {
  let extensions = declared.get(server);
  if (!extensions) declared.set(server, (extensions = new Map()));
  extensions.set(id, settings);
}

/** The extensions declared on a server, as `capabilities.extensions` shows them. */
export function declaredExtensions(server: object): JsonObject | undefined {
  const extensions = declared.get(server);
  return extensions?.size ? Object.fromEntries(extensions) : undefined;
}
