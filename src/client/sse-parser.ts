import { TransportError } from "./errors.ts";

/** One dispatched server-sent event. */
export interface SseEvent {
  /** The `event` field; "message" when absent. */
  type: string;
  data: string;
  /** The stream's last event id when this event was dispatched. */
  id: string | undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder();

/**
 * An incremental parser for `text/event-stream` (the WHATWG rules): feed it byte chunks as
 * they arrive, it returns the events they complete. Lines may end in CRLF, LF or CR, and a
 * chunk may split a line, a CRLF pair or a UTF-8 sequence anywhere.
 *
 * `lastEventId` and `retry` follow the `id` and `retry` fields as they are read, so a reader
 * knows where to resume even from events that carry no data (a priming event).
 */
export class SseParser {
  readonly #maxEventBytes: number;
  /** The pieces of the line not yet ended. */
  #line: Uint8Array[] = [];
  #lineBytes = 0;
  #data: string[] = [];
  #dataBytes = 0;
  #hasData = false;
  #type = "";
  #afterCr = false;
  #started = false;
  #lastEventId: string | undefined;
  #retry: number | undefined;

  /** `maxEventBytes` bounds one event's data (and any one line): past it, push throws. */
  constructor(options: { maxEventBytes?: number; lastEventId?: string } = {}) {
    this.#maxEventBytes = options.maxEventBytes ?? Number.POSITIVE_INFINITY;
    this.#lastEventId = options.lastEventId;
  }

  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** The reconnection delay the server asked for, in milliseconds. */
  get retry(): number | undefined {
    return this.#retry;
  }

  /** Parses a chunk; returns the events it completed, in order. */
  push(chunk: Uint8Array): SseEvent[] {
    const events: SseEvent[] = [];
    if (chunk.length === 0) return events;
    let start = 0;
    if (!this.#started) {
      this.#started = true;
      // A UTF-8 byte order mark may open the stream; it is not part of the first line.
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) start = 3;
    }
    if (this.#afterCr && chunk[start] === LF) start++;
    this.#afterCr = false;
    while (start < chunk.length) {
      const end = lineEnd(chunk, start);
      if (end < 0) {
        this.#append(chunk.subarray(start));
        break;
      }
      this.#append(chunk.subarray(start, end));
      this.#endLine(events);
      start = end + 1;
      if (chunk[end] === CR) {
        // A CR may be the first half of a CRLF split across chunks.
        if (start === chunk.length) this.#afterCr = true;
        else if (chunk[start] === LF) start++;
      }
    }
    return events;
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#lineBytes += bytes.length;
    this.#checkSize(this.#lineBytes);
    this.#line.push(bytes);
  }

  #checkSize(bytes: number): void {
    if (bytes + this.#dataBytes > this.#maxEventBytes) {
      throw new TransportError(
        "ERR_MESSAGE_TOO_LARGE",
        `A server-sent event is larger than the limit of ${this.#maxEventBytes} bytes`,
      );
    }
  }

  #endLine(events: SseEvent[]): void {
    const size = this.#lineBytes;
    const line = this.#takeLine();
    if (line === "") {
      this.#dispatch(events);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.#data.push(value);
        // The line's size stands for the value's: a few bytes of field name are counted too.
        this.#dataBytes += size + 1;
        this.#hasData = true;
        return;
      case "event":
        this.#type = value;
        return;
      case "id":
        if (!value.includes("\0")) this.#lastEventId = value;
        return;
      case "retry":
        if (/^\d+$/.test(value)) this.#retry = Number(value);
        return;
    }
  }

  #takeLine(): string {
    const parts = this.#line;
    const size = this.#lineBytes;
    this.#line = [];
    this.#lineBytes = 0;
    if (parts.length === 0) return "";
    if (parts.length === 1) return decoder.decode(parts[0]);
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return decoder.decode(bytes);
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#hasData) {
      const data = this.#data.join("\n");
      events.push({ type: this.#type || "message", data, id: this.#lastEventId });
    }
    this.#data = [];
    this.#dataBytes = 0;
    this.#hasData = false;
    this.#type = "";
  }
}

/** The index of the next CR or LF at or after `from`; -1 when there is none. */
function lineEnd(chunk: Uint8Array, from: number): number {
  const lf = chunk.indexOf(LF, from);
  const cr = chunk.indexOf(CR, from);
  if (lf < 0) return cr;
  if (cr < 0) return lf;
  return Math.min(lf, cr);
}
