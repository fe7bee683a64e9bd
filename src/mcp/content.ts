import type { CallToolResult, ContentBlock, JsonObject } from "./types.ts";

const CONTENT_TYPES = new Set(["text", "image", "audio", "resource_link", "resource"]);

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isContentBlock(value: unknown): value is ContentBlock {
  return isObject(value) && typeof value.type === "string" && CONTENT_TYPES.has(value.type);
}

export function isCallToolResult(value: unknown): value is CallToolResult {
  return isObject(value) && Array.isArray(value.content) && value.content.every(isContentBlock);
}

export function text(value: string): ContentBlock {
  return { type: "text", text: value };
}

/** Turns what a handler returned into content blocks. */
export function toContent(value: unknown): ContentBlock[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") return [text(value)];
  if (isContentBlock(value)) return [value];
  if (Array.isArray(value) && value.every(isContentBlock)) return value;
  return [text(JSON.stringify(value))];
}

/** Encodes bytes as base64 for image, audio and blob payloads. */
export { toBase64 } from "../util/bytes.ts";
