/**
 * The wire shapes of MCP Apps (the `io.modelcontextprotocol/ui` extension, SEP-1865): what a
 * tool's `_meta.ui` and a UI resource's `_meta.ui` hold, checked once when an app is
 * registered so that a host never receives a policy it would have to second-guess.
 */
import { isObject } from "../content.ts";
import type { JsonObject } from "../types.ts";

/** The extension's identifier in `capabilities.extensions`. */
export const APPS_EXTENSION = "io.modelcontextprotocol/ui";
/** The MIME type of an app's HTML: the one content type the extension defines. */
export const APP_MIME_TYPE = "text/html;profile=mcp-app";
/** The flat key older hosts read a tool's UI from (deprecated by the spec, still sent). */
export const LEGACY_RESOURCE_URI_KEY = "ui/resourceUri";

/** Who may call a tool: the model (agent), the app (its view), or both (the default). */
export type UiVisibility = "model" | "app";

/** A browser capability a view asks the host to grant through the iframe's `allow`. */
export type UiPermission = "camera" | "microphone" | "geolocation" | "clipboardWrite";

/**
 * Origins a view may reach, each mapped by the host to CSP directives. Omitted lists mean
 * none: the host's restrictive default (no network, no external scripts, no frames).
 */
export interface UiCsp {
  /** fetch / XHR / WebSocket (`connect-src`). */
  connectDomains?: readonly string[];
  /** Scripts, styles, images, fonts, media (`script-src`, `img-src`, …). */
  resourceDomains?: readonly string[];
  /** Nested iframes (`frame-src`). */
  frameDomains?: readonly string[];
  /** `<base href>` targets (`base-uri`). */
  baseUriDomains?: readonly string[];
}

/** Rendering and security metadata of a UI resource, as `_meta.ui` carries it. */
export interface UiResourceMeta {
  csp?: UiCsp;
  permissions?: Partial<Record<UiPermission, JsonObject>>;
  domain?: string;
  prefersBorder?: boolean;
}

const CSP_KEYS = ["connectDomains", "resourceDomains", "frameDomains", "baseUriDomains"] as const;
const PERMISSIONS: readonly UiPermission[] = [
  "camera",
  "microphone",
  "geolocation",
  "clipboardWrite",
];
const VISIBILITIES: readonly UiVisibility[] = ["model", "app"];

// An origin, optionally with a leading wildcard label and a port: nothing a host could read as
// another CSP directive or keyword ('unsafe-eval', *, data:, a `;`).
const ORIGIN =
  /^(?:https?|wss?):\/\/(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$/;

/** Whether a string names a UI resource. */
export function isUiUri(uri: unknown): uri is string {
  return typeof uri === "string" && /^ui:\/\/[^\s]+$/.test(uri);
}

/** Checks a CSP declaration; throws TypeError naming the offending entry. */
export function checkCsp(csp: UiCsp, where: string): UiCsp {
  if (!isObject(csp)) throw new TypeError(`${where}: csp must be an object`);
  const out: Record<string, string[]> = {};
  for (const key of Object.keys(csp)) {
    if (!(CSP_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`${where}: unknown csp key "${key}" (one of ${CSP_KEYS.join(", ")})`);
    }
  }
  for (const key of CSP_KEYS) {
    const list = csp[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new TypeError(`${where}: csp.${key} must be an array`);
    for (const origin of list) {
      if (typeof origin !== "string" || !ORIGIN.test(origin)) {
        throw new TypeError(
          `${where}: csp.${key} entry ${JSON.stringify(origin)} is not an origin such as https://api.example.com or https://*.example.com`,
        );
      }
    }
    out[key] = [...list];
  }
  return out;
}

/** The `_meta.ui` of a UI resource from its options, checked. */
export function resourceMeta(
  options: {
    csp?: UiCsp;
    permissions?: readonly UiPermission[];
    domain?: string;
    prefersBorder?: boolean;
  },
  where: string,
): JsonObject {
  const ui: JsonObject = {};
  if (options.csp !== undefined) ui.csp = checkCsp(options.csp, where) as JsonObject;
  if (options.permissions !== undefined) {
    if (!Array.isArray(options.permissions)) {
      throw new TypeError(`${where}: permissions must be an array of ${PERMISSIONS.join(", ")}`);
    }
    const granted: JsonObject = {};
    for (const permission of options.permissions) {
      if (!PERMISSIONS.includes(permission)) {
        throw new TypeError(
          `${where}: unknown permission ${JSON.stringify(permission)} (one of ${PERMISSIONS.join(", ")})`,
        );
      }
      granted[permission] = {};
    }
    ui.permissions = granted;
  }
  if (options.domain !== undefined) {
    if (typeof options.domain !== "string" || !/^[^\s;,'"]+$/.test(options.domain)) {
      throw new TypeError(`${where}: domain must be a host name without spaces or quotes`);
    }
    ui.domain = options.domain;
  }
  if (options.prefersBorder !== undefined) {
    if (typeof options.prefersBorder !== "boolean") {
      throw new TypeError(`${where}: prefersBorder must be a boolean`);
    }
    ui.prefersBorder = options.prefersBorder;
  }
  return ui;
}

/** Checks a visibility list: a non-empty subset of "model" and "app". */
export function checkVisibility(
  visibility: readonly UiVisibility[],
  where: string,
): UiVisibility[] {
  if (
    !Array.isArray(visibility) ||
    visibility.length === 0 ||
    visibility.some((v) => !VISIBILITIES.includes(v))
  ) {
    throw new TypeError(`${where}: visibility must be a non-empty list of "model" and "app"`);
  }
  return [...new Set(visibility)];
}

/**
 * The UI resource a listed tool names: `_meta.ui.resourceUri`, else the legacy flat key.
 * Undefined when the tool has none, or names something that is not a `ui://` URI.
 */
export function toolUiUri(tool: { _meta?: unknown }): string | undefined {
  const meta = isObject(tool._meta) ? tool._meta : undefined;
  if (!meta) return undefined;
  const ui = isObject(meta.ui) ? meta.ui : undefined;
  const uri = ui?.resourceUri ?? meta[LEGACY_RESOURCE_URI_KEY];
  return isUiUri(uri) ? uri : undefined;
}

/** Who a listed tool is for; the spec's default when it says nothing is both. */
export function toolVisibility(tool: { _meta?: unknown }): UiVisibility[] {
  const meta = isObject(tool._meta) ? tool._meta : undefined;
  const ui = meta && isObject(meta.ui) ? meta.ui : undefined;
  const listed = ui?.visibility;
  if (!Array.isArray(listed)) return ["model", "app"];
  return listed.filter((v): v is UiVisibility => VISIBILITIES.includes(v as UiVisibility));
}
