import type { Readable } from "node:stream";

/** How much of a server process's stderr is kept for diagnostics. */
export interface StderrTailOptions {
  /** The last lines kept. Default 50. */
  lines?: number;
  /** The most bytes (UTF-16 code units) kept over all lines. Default 8192. */
  bytes?: number;
}

/**
 * The last lines a process wrote to stderr, bounded by count and size: a ring that old lines
 * fall out of, so a chatty server cannot grow the gateway's memory.
 */
export class StderrTail {
  readonly #maxLines: number;
  readonly #maxBytes: number;
  readonly #lines: string[] = [];
  #size = 0;
  /** A line not yet ended by a newline. */
  #partial = "";

  constructor(options: StderrTailOptions = {}) {
    this.#maxLines = options.lines ?? 50;
    this.#maxBytes = options.bytes ?? 8192;
    for (const [name, value] of [
      ["lines", this.#maxLines],
      ["bytes", this.#maxBytes],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new TypeError(`stderrTail.${name} must be a whole number of at least 1`);
      }
    }
  }

  /** Reads `stream` to its end into the tail; resolves when it ended (or closed). */
  follow(stream: Readable): Promise<void> {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => this.write(chunk));
    return new Promise((resolve) => {
      stream.once("close", resolve);
      stream.once("end", resolve);
      stream.once("error", () => resolve());
    });
  }

  write(chunk: string): void {
    const parts = (this.#partial + chunk).split("\n");
    this.#partial = parts.pop() ?? "";
    for (const line of parts) this.#push(line.endsWith("\r") ? line.slice(0, -1) : line);
    // An endless line must not grow without bound either.
    if (this.#partial.length > this.#maxBytes) this.#partial = this.#partial.slice(-this.#maxBytes);
  }

  #push(line: string): void {
    const kept = line.length > this.#maxBytes ? line.slice(-this.#maxBytes) : line;
    this.#lines.push(kept);
    this.#size += kept.length;
    while (this.#lines.length > this.#maxLines || this.#size > this.#maxBytes) {
      this.#size -= this.#lines.shift()!.length;
    }
  }

  /** The kept lines, oldest first, the unfinished last one included. */
  get lines(): string[] {
    return this.#partial === "" ? [...this.#lines] : [...this.#lines, this.#partial];
  }

  /** The kept lines as one text. */
  toString(): string {
    return this.lines.join("\n");
  }
}
