/** toLlmContent: any tool result as one LLM-ready content list. */
import { describe, expect, it } from "vitest";
import { toLlmContent } from "../../src/client/index.ts";

describe("toLlmContent", () => {
  it("keeps text, image and audio blocks in order", () => {
    expect(
      toLlmContent({
        content: [
          { type: "text", text: "Chart generated.", annotations: { priority: 1 } },
          { type: "image", data: "aW1n", mimeType: "image/png" },
          { type: "audio", data: "YXVk", mimeType: "audio/wav" },
        ],
      }),
    ).toEqual([
      { type: "text", text: "Chart generated." },
      { type: "image", data: "aW1n", mimeType: "image/png" },
      { type: "audio", data: "YXVk", mimeType: "audio/wav" },
    ]);
  });

  it("reads embedded resources: text as text, images and audio as such, other blobs as a note", () => {
    expect(
      toLlmContent({
        content: [
          { type: "resource", resource: { uri: "notes://1", text: "note one" } },
          { type: "resource", resource: { uri: "img://1", blob: "cGl4", mimeType: "image/jpeg" } },
          { type: "resource", resource: { uri: "snd://1", blob: "c25k", mimeType: "audio/ogg" } },
          { type: "resource", resource: { uri: "bin://1", blob: "AAAAAAAA" } },
        ],
      }),
    ).toEqual([
      { type: "text", text: "note one" },
      { type: "image", data: "cGl4", mimeType: "image/jpeg" },
      { type: "audio", data: "c25k", mimeType: "audio/ogg" },
      { type: "text", text: "Binary resource <bin://1> (application/octet-stream, about 6 bytes)" },
    ]);
  });

  it("describes resource links", () => {
    expect(
      toLlmContent({
        content: [
          {
            type: "resource_link",
            uri: "file:///r.txt",
            name: "r",
            title: "Report",
            mimeType: "text/plain",
            description: "Q1 numbers",
          },
        ],
      }),
    ).toEqual([
      { type: "text", text: "Resource link: Report <file:///r.txt> (text/plain): Q1 numbers" },
    ]);
  });

  it("adds structuredContent as JSON when no text block carries it", () => {
    expect(
      toLlmContent({ content: [{ type: "text", text: "Done." }], structuredContent: { id: 7 } }),
    ).toEqual([
      { type: "text", text: "Done." },
      { type: "text", text: '{"id":7}' },
    ]);
    expect(toLlmContent({ structuredContent: { id: 7 } })).toEqual([
      { type: "text", text: '{"id":7}' },
    ]);
  });

  it("does not repeat structuredContent a text block already serializes, in any key order", () => {
    expect(
      toLlmContent({
        content: [{ type: "text", text: '{ "b": [1, {"y": 2, "x": 1}], "a": "z" }' }],
        structuredContent: { a: "z", b: [1, { x: 1, y: 2 }] },
      }),
    ).toEqual([{ type: "text", text: '{ "b": [1, {"y": 2, "x": 1}], "a": "z" }' }]);
  });

  it("reads structuredContent that is itself content, or a list of content", () => {
    expect(
      toLlmContent({ content: [], structuredContent: { type: "text", text: "as content" } }),
    ).toEqual([{ type: "text", text: "as content" }]);
    expect(
      toLlmContent({
        structuredContent: [
          { type: "text", text: "a" },
          { type: "image", data: "eA==", mimeType: "image/gif" },
        ],
      }),
    ).toEqual([
      { type: "text", text: "a" },
      { type: "image", data: "eA==", mimeType: "image/gif" },
    ]);
  });

  it("keeps entries that are not content blocks as text, from sloppy servers", () => {
    expect(toLlmContent({ content: ["plain string", { weird: true }, 42] })).toEqual([
      { type: "text", text: "plain string" },
      { type: "text", text: '{"weird":true}' },
      { type: "text", text: "42" },
    ]);
  });

  it("gives an empty list for an empty result", () => {
    expect(toLlmContent({})).toEqual([]);
    expect(toLlmContent({ content: [], structuredContent: null })).toEqual([]);
  });
});
