import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import type { AuditSink } from "../auth/audit-events.ts";

/** An audit sink that can be flushed and closed at shutdown. */
export interface ClosableAuditSink extends AuditSink {
  /** Resolves once every event written so far is handed to the OS; then closes the file. */
  close(): Promise<void>;
}

/**
 * Writes each audit event as one line of JSON to a stream (`process.stdout` for a log
 * shipper that reads it). A failed write rejects, so the authorization server logs it; the
 * stream's errors are handled here (unhandled, they would end the process).
 */
export function auditStream(stream: Writable): AuditSink {
  // The stream's own failure (a file that cannot be opened) says more than "destroyed".
  let failure: Error | undefined;
  stream.on("error", (error) => {
    failure ??= error;
  });
  return (event) =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      stream.write(`${JSON.stringify(event)}\n`, (error) =>
        error ? reject(failure ?? error) : resolve(),
      );
    });
}

/**
 * Appends each audit event as one line of JSON to a file (created when missing; never
 * truncated). Rotate it with a tool that copies and truncates, or restart after moving it.
 */
export function auditFile(path: string): ClosableAuditSink {
  const stream = createWriteStream(path, { flags: "a", encoding: "utf8" });
  const sink = auditStream(stream) as ClosableAuditSink;
  sink.close = () =>
    new Promise<void>((resolve, reject) => {
      if (stream.destroyed) return resolve();
      stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  return sink;
}
