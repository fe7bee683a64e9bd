import type { Context } from "hono";
import { requestIdOf } from "../http/request-id.ts";
import type { Clock } from "../util/clock.ts";
import { type Logger, logOnce } from "../util/log.ts";
import type { AuditEvent, AuditRecord, AuditSink } from "./audit-events.ts";

/** A scope string as a list, for events; an absent or empty one is no scopes. */
export function scopesOf(scope: string | undefined): string[] {
  return (scope ?? "").split(" ").filter(Boolean);
}

/** What kind of failure an error is, so that each kind is logged once and not per event. */
function failureKind(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const code = (error as { code?: unknown }).code;
  return code === undefined ? error.name : `${error.name} ${String(code)}`;
}

/** Lets a Worker finish an asynchronous write after the response; elsewhere nothing to do. */
function keepAlive(c: Context, pending: Promise<unknown>): void {
  let context: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    context = c.executionCtx;
  } catch {
    return; // No ExecutionContext outside Workers: the promise runs on by itself.
  }
  context.waitUntil(pending);
}

/**
 * Hands events to the operator's sink without ever holding up or breaking a request: the
 * sink is not awaited, and what it throws or rejects with is logged once per kind of failure.
 */
export class AuditTrail {
  readonly #sink: AuditSink | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(sink: AuditSink | undefined, clock: Clock, logger: Logger) {
    this.#sink = sink;
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Reports an event of this request: the time and the request id are added here. */
  emit(c: Context, record: AuditRecord): void {
    const sink = this.#sink;
    if (!sink) return;
    const event = {
      ...record,
      time: new Date(this.#clock()).toISOString(),
      requestId: requestIdOf(c),
    } as AuditEvent;
    try {
      const result = sink(event);
      if (result instanceof Promise)
        keepAlive(
          c,
          result.catch((error) => this.#failed(error)),
        );
    } catch (error) {
      this.#failed(error);
    }
  }

  #failed(error: unknown): void {
    const kind = failureKind(error);
    logOnce(
      this.#logger,
      "error",
      `audit-sink ${kind}`,
      "the audit sink failed: events are being lost (said once per kind of failure)",
      { kind, error },
    );
  }
}

/**
 * An audit sink writing each event as one line of JSON (no trailing newline: `write` adds one
 * if its destination needs it). Runs anywhere: `jsonLinesAudit((line) => console.log(line))`
 * sends the trail to stdout for a log shipper; portcullis/node's `auditFile` appends to a file.
 */
export function jsonLinesAudit(write: (line: string) => void | Promise<void>): AuditSink {
  return (event) => write(JSON.stringify(event));
}
