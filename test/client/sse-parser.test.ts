/** The incremental SSE parser, against the WHATWG rules and awkward chunking. */
import { describe, expect, it } from "vitest";
import { type SseEvent, SseParser, TransportError } from "../../src/client/index.ts";

const encoder = new TextEncoder();

/** Feeds text to a parser in the given chunks (split at byte offsets); returns every event. */
function parse(text: string, cuts: number[] = [], parser = new SseParser()): SseEvent[] {
  const bytes = encoder.encode(text);
  const events: SseEvent[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...parser.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return events;
}

/** Every way of cutting `text` into two chunks gives the same events. */
function everySplit(text: string): SseEvent[][] {
  const length = encoder.encode(text).length;
  return Array.from({ length: length + 1 }, (_, cut) => parse(text, [cut]));
}

describe("SseParser", () => {
  it("parses events with type, data and id", () => {
    expect(parse('event: message\nid: 7\ndata: {"a":1}\n\n')).toEqual([
      { type: "message", data: '{"a":1}', id: "7" },
    ]);
  });

  it("joins multi-line data with newlines and drops the final one", () => {
    expect(parse("data: one\ndata: two\ndata:\n\n")).toEqual([
      { type: "message", data: "one\ntwo\n", id: undefined },
    ]);
  });

  it("strips exactly one leading space from a value", () => {
    expect(parse("data:  two spaces\ndata:none\n\n")[0]!.data).toBe(" two spaces\nnone");
  });

  it("ignores comments and unknown fields, and a block with no data", () => {
    expect(parse(": keep-alive\n\nfoo: bar\n\nevent: x\n\ndata: real\n\n")).toEqual([
      { type: "message", data: "real", id: undefined },
    ]);
  });

  it("dispatches an event whose data is empty (a priming event) and keeps its id", () => {
    const parser = new SseParser();
    expect(parse("id: prime-1\nretry: 1500\ndata: \n\n", [], parser)).toEqual([
      { type: "message", data: "", id: "prime-1" },
    ]);
    expect(parser.lastEventId).toBe("prime-1");
    expect(parser.retry).toBe(1500);
  });

  it("keeps the last event id across events and takes an id from a block without data", () => {
    const parser = new SseParser();
    const events = parse("id: 1\ndata: a\n\ndata: b\n\nid: 3\n\n", [], parser);
    expect(events.map((event) => event.id)).toEqual(["1", "1"]);
    expect(parser.lastEventId).toBe("3");
  });

  it("ignores an id with NUL and a retry that is not digits", () => {
    const parser = new SseParser({ lastEventId: "kept" });
    parse("id: a\0b\nretry: 12x\ndata: z\n\n", [], parser);
    expect(parser.lastEventId).toBe("kept");
    expect(parser.retry).toBeUndefined();
  });

  it.each([
    ["LF", "data: a\ndata: b\n\n"],
    ["CRLF", "data: a\r\ndata: b\r\n\r\n"],
    ["CR", "data: a\rdata: b\r\r"],
  ])("reads %s line endings, however the stream is chunked", (_name, text) => {
    for (const events of everySplit(text)) {
      expect(events).toEqual([{ type: "message", data: "a\nb", id: undefined }]);
    }
  });

  it("reads multi-byte UTF-8 split across chunks", () => {
    const text = "data: héllo wörld ✓ 🎉\n\n";
    for (const events of everySplit(text)) {
      expect(events).toEqual([{ type: "message", data: "héllo wörld ✓ 🎉", id: undefined }]);
    }
  });

  it("skips a byte order mark at the start", () => {
    expect(parse("\uFEFFdata: x\n\n")[0]!.data).toBe("x");
  });

  it("keeps an incomplete event until it ends", () => {
    const parser = new SseParser();
    expect(parse("data: partial", [], parser)).toEqual([]);
    expect(parse("\n\n", [], parser)).toEqual([
      { type: "message", data: "partial", id: undefined },
    ]);
  });

  it("refuses an event over maxEventBytes, even before its line ends", () => {
    const parser = new SseParser({ maxEventBytes: 64 });
    const error = (() => {
      try {
        parse(`data: ${"x".repeat(100)}`, [10, 40, 80], parser);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_MESSAGE_TOO_LARGE" });
  });

  it("counts data across lines toward the limit, and starts over for each event", () => {
    const line = `data: ${"y".repeat(20)}\n`;
    const fits = new SseParser({ maxEventBytes: 64 });
    expect(parse(`${line}${line}\n${line}${line}\n`, [], fits)).toHaveLength(2);
    const over = new SseParser({ maxEventBytes: 64 });
    expect(() => parse(`${line}${line}${line}${line}\n`, [], over)).toThrow(TransportError);
  });
});
