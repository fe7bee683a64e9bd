/**
 * stdio diagnostics: a server that never answers is killed at its startup limit (the test's
 * timers, no waiting), and what a server wrote to stderr before it crashed is kept, bounded,
 * and handed out on the error.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { McpClient, TransportError } from "../../src/client/index.ts";
import { type StdioClientOptions, stdioClientTransport } from "../../src/node/index.ts";
import { StderrTail } from "../../src/node/stderr-tail.ts";
import { until } from "../helpers/async.ts";
import { manualTimers } from "../helpers/clock.ts";

const fixture = fileURLToPath(new URL("../fixtures/stdio-server.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

function client(): McpClient {
  const made = new McpClient({ name: "diagnostics-test", version: "1.0.0", retry: false });
  open.push(made);
  return made;
}

/** A program run with `node -e`. */
const script = (source: string, options: Partial<StdioClientOptions> = {}) =>
  stdioClientTransport({ command: process.execPath, args: ["-e", source], ...options });

describe("the startup limit", () => {
  it("kills a server that never answers its handshake, with ERR_STARTUP_TIMEOUT", async () => {
    const timers = manualTimers();
    // Reads stdin forever, says something on stderr, never answers.
    const transport = script(
      "process.stdin.resume(); process.stderr.write('loading a very large model\\n');",
      { startupTimeoutMs: 5_000, timers, stderr: "capture" },
    );
    const connecting = client()
      .connect(transport)
      .catch((error: unknown) => error);
    await timers.sleeping(1);
    expect(timers.waits).toEqual([5_000]);
    await until(() => transport.stderrTail?.includes("loading a very large model") === true);
    expect(transport.process!.exitCode).toBeNull();
    timers.fire();
    const failure = await connecting;
    expect(failure).toBeInstanceOf(TransportError);
    expect(failure).toMatchObject({ code: "ERR_STARTUP_TIMEOUT" });
    expect((failure as TransportError).stderr).toContain("loading a very large model");
    await until(() => transport.process!.signalCode === "SIGKILL");
  });

  it("stands down once the server answered: a later tick kills nothing", async () => {
    const timers = manualTimers();
    const transport = stdioClientTransport({
      command: process.execPath,
      args: ["--import", "tsx", fixture],
      cwd: root,
      stderr: "capture",
      startupTimeoutMs: 5_000,
      timers,
    });
    const connected = client();
    await connected.connect(transport);
    // The limit's sleep was aborted when the first answer came.
    expect(timers.pending()).toBe(0);
    timers.fire();
    const result = await connected.callTool("echo", { text: "still here" });
    expect(result.content).toEqual([{ type: "text", text: "echo: still here" }]);
    expect(transport.process!.exitCode).toBeNull();
  });

  it("refuses a limit that is not a positive number", () => {
    for (const startupTimeoutMs of [0, -1, Number.NaN]) {
      expect(() => script("", { startupTimeoutMs })).toThrow(TypeError);
    }
  });
});

describe("stderr captured", () => {
  it("hands the last lines of a server that wrote then crashed to the error", async () => {
    const transport = script(
      "for (let i = 1; i <= 200; i++) process.stderr.write('line ' + i + '\\n');" +
        "process.stderr.write('fatal: config missing\\n'); process.exit(4);",
      { stderr: "capture", stderrTail: { lines: 10 } },
    );
    const failure = await client()
      .connect(transport)
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "ERR_CONNECTION_CLOSED" });
    expect((failure as Error).message).toContain("code 4");
    expect((failure as Error).message).toContain("fatal: config missing");
    const kept = (failure as TransportError).stderr!.split("\n");
    // Bounded: the last ten lines only, in order.
    expect(kept).toEqual([
      ...[192, 193, 194, 195, 196, 197, 198, 199, 200].map((n) => `line ${n}`),
      "fatal: config missing",
    ]);
    expect(transport.stderrTail).toBe((failure as TransportError).stderr);
  });

  it("keeps what a running server wrote, and passes none of it on", async () => {
    const transport = stdioClientTransport({
      command: process.execPath,
      args: ["--import", "tsx", fixture],
      cwd: root,
      stderr: "capture",
    });
    const connected = client();
    await connected.connect(transport);
    await until(() => transport.stderrTail?.includes("stdio fixture ready") === true);
    const closed = new Promise<unknown>((resolve) =>
      connected.watch((change) => change.state === "closed" && resolve(change.error)),
    );
    await connected.callTool("exit", {}).catch(() => undefined);
    const error = await closed;
    expect(error).toMatchObject({
      code: "ERR_CONNECTION_CLOSED",
      stderr: expect.stringContaining("stdio fixture ready"),
    });
  });

  it("bounds the tail by size as well as by lines", () => {
    const tail = new StderrTail({ lines: 100, bytes: 20 });
    tail.write("aaaaaaaaaa\nbbbbbbbbbb\ncccccccccc\n");
    expect(tail.lines).toEqual(["bbbbbbbbbb", "cccccccccc"]);
    tail.write("x".repeat(50));
    expect(tail.lines.at(-1)).toBe("x".repeat(20));
    expect(() => new StderrTail({ lines: 0 })).toThrow(TypeError);
  });
});
