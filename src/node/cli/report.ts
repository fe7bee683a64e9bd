import type { Progress } from "../../client/connection.ts";
import { networkCause } from "../../client/network-cause.ts";

/** A progress line on stderr: a bar when it is a terminal, plain lines when it is not. */
export function progressReporter(stderr: { write(text: string): unknown; isTTY?: boolean }): {
  update: (progress: Progress) => void;
  done: () => void;
} {
  let drawn = false;
  return {
    update(progress) {
      const message = progress.message ? ` ${progress.message}` : "";
      if (!stderr.isTTY) {
        const of = progress.total === undefined ? "" : `/${progress.total}`;
        stderr.write(`progress ${progress.progress}${of}${message}\n`);
        return;
      }
      const width = 30;
      const bar =
        progress.total && progress.total > 0
          ? (() => {
              const share = Math.min(1, Math.max(0, progress.progress / progress.total));
              const filled = Math.round(share * width);
              return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${Math.round(share * 100)}%`;
            })()
          : `[${progress.progress}]`;
      stderr.write(`\r\x1b[K${bar}${message}`);
      drawn = true;
    },
    done() {
      if (drawn) stderr.write("\r\x1b[K");
      drawn = false;
    },
  };
}

/** One listing line: a name and the first line of its description. */
export function describe(name: string, text: string | undefined): string {
  return text ? `  ${name} — ${text.split("\n")[0]}` : `  ${name}`;
}

/**
 * A failure in one line for the person: its message, the network cause behind it when the
 * message does not say it yet (refused, DNS, TLS), and its code.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let text = error.message;
  const cause = networkCause(error.cause);
  if (cause && !text.includes(cause)) text += `: ${cause}`;
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
  if (code && !text.includes(`[${code}]`)) text = `${text} [${code}]`;
  // A server process's last words, when they were captured, say why it could not start.
  const stderr = capturedStderr(error) ?? capturedStderr(error.cause);
  return stderr
    ? `${text}\n  its stderr ended with:\n    ${stderr.trimEnd().replaceAll("\n", "\n    ")}`
    : text;
}

function capturedStderr(error: unknown): string | undefined {
  const stderr = (error as { stderr?: unknown } | null | undefined)?.stderr;
  return typeof stderr === "string" && stderr.trim() !== "" ? stderr : undefined;
}
