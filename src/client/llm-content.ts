import { isContentBlock, isObject } from "../mcp/content.ts";
import type { ContentBlock } from "../mcp/types.ts";

/** Content in the shape most LLM APIs take for a tool's output, independent of any one API. */
export type LlmContent =
  | { type: "text"; text: string }
  | { type: "image"; data: string; mimeType: string }
  | { type: "audio"; data: string; mimeType: string };

/** Anything that looks like a tool result: `content` and/or `structuredContent`. */
export interface ToolResultLike {
  content?: unknown;
  structuredContent?: unknown;
  isError?: boolean;
}

/**
 * Turns a tool result into one list of LLM-ready content: every content block in order
 * (embedded text resources as their text, binary ones as images, audio or a short note,
 * resource links as a line naming the link), then `structuredContent` unless a text block
 * already carries the same JSON. structuredContent that is itself a content block, or a list
 * of them, is read as content. Entries that are not content blocks are kept as JSON text.
 */
export function toLlmContent(result: ToolResultLike): LlmContent[] {
  const out: LlmContent[] = [];
  const content = Array.isArray(result.content) ? result.content : [];
  for (const item of content) out.push(...fromItem(item));
  const structured = result.structuredContent;
  if (structured === undefined || structured === null) return out;
  if (isContentBlock(structured)) {
    out.push(...fromBlock(structured));
  } else if (
    Array.isArray(structured) &&
    structured.length > 0 &&
    structured.every(isContentBlock)
  ) {
    for (const block of structured) out.push(...fromBlock(block));
  } else if (!carries(content, structured)) {
    out.push({ type: "text", text: JSON.stringify(structured) });
  }
  return out;
}

function fromItem(item: unknown): LlmContent[] {
  if (isContentBlock(item)) return fromBlock(item);
  if (typeof item === "string") return [{ type: "text", text: item }];
  return [{ type: "text", text: JSON.stringify(item) }];
}

function fromBlock(block: ContentBlock): LlmContent[] {
  switch (block.type) {
    case "text":
      return [{ type: "text", text: block.text }];
    case "image":
    case "audio":
      return [{ type: block.type, data: block.data, mimeType: block.mimeType }];
    case "resource_link": {
      const label = block.title ?? block.name;
      const mime = block.mimeType ? ` (${block.mimeType})` : "";
      const about = block.description ? `: ${block.description}` : "";
      return [{ type: "text", text: `Resource link: ${label} <${block.uri}>${mime}${about}` }];
    }
    case "resource": {
      const resource = block.resource;
      if ("text" in resource && typeof resource.text === "string") {
        return [{ type: "text", text: resource.text }];
      }
      const blob = "blob" in resource ? resource.blob : "";
      const mimeType = resource.mimeType ?? "application/octet-stream";
      if (mimeType.startsWith("image/")) return [{ type: "image", data: blob, mimeType }];
      if (mimeType.startsWith("audio/")) return [{ type: "audio", data: blob, mimeType }];
      // Base64 carries 3 bytes in 4 characters.
      const bytes = Math.floor((blob.length * 3) / 4);
      return [
        {
          type: "text",
          text: `Binary resource <${resource.uri}> (${mimeType}, about ${bytes} bytes)`,
        },
      ];
    }
  }
}

/** Whether a text block already holds this structured value as JSON (the spec's advice). */
function carries(content: readonly unknown[], structured: unknown): boolean {
  const expected = JSON.stringify(canonical(structured));
  return content.some((item) => {
    if (!isContentBlock(item) || item.type !== "text") return false;
    try {
      return JSON.stringify(canonical(JSON.parse(item.text))) === expected;
    } catch {
      return false;
    }
  });
}

/** The same value with object keys sorted, so equal JSON compares equal as text. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (!isObject(value)) return value;
  // Built from entries: a key named `__proto__` stays a key, never the object's prototype.
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical(value[key])]),
  );
}
