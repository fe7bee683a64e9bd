import type { Readable } from "node:stream";

/**
 * Splits a byte stream into lines (newline-delimited JSON-RPC), handing each complete line to
 * `onLine` without its line ending. A line longer than `maxBytes` is reported to `onTooLong`
 * and skipped to its end, so one bad message does not end the connection. Returns the function
 * that stops reading.
 */
export function readLines(
  input: Readable,
  onLine: (line: string) => void,
  options: { maxBytes?: number; onTooLong?: (bytes: number) => void } = {},
): () => void {
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  const emit = (last: Buffer) => {
    const line = Buffer.concat([...parts, last]);
    parts = [];
    size = 0;
    const text = line.toString("utf8");
    onLine(text.endsWith("\r") ? text.slice(0, -1) : text);
  };
  const onData = (chunk: Buffer | string) => {
    let buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    for (;;) {
      const end = buffer.indexOf(0x0a);
      if (end < 0) {
        if (skipping) return;
        size += buffer.length;
        if (size > maxBytes) {
          options.onTooLong?.(size);
          parts = [];
          size = 0;
          skipping = true;
          return;
        }
        parts.push(buffer);
        return;
      }
      const head = buffer.subarray(0, end);
      buffer = buffer.subarray(end + 1);
      if (skipping) {
        skipping = false;
        continue;
      }
      if (size + head.length > maxBytes) {
        options.onTooLong?.(size + head.length);
        parts = [];
        size = 0;
        continue;
      }
      emit(head);
    }
  };
  input.on("data", onData);
  return () => {
    input.off("data", onData);
    input.pause();
  };
}
