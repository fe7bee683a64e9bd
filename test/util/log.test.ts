/**
 * The default logger's lines as an operator reads them on stderr (console.error, the one
 * output every runtime has): text or JSON, filtered by level, silent under vitest unless a
 * logger is given.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLogger, resolveLogger, silentLogger } from "../../src/util/log.ts";

function captured(): string[] {
  const written: string[] = [];
  vi.spyOn(console, "error").mockImplementation((line: unknown) => {
    written.push(String(line));
  });
  return written;
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("consoleLogger", () => {
  it("writes concise text lines with key=value fields, and the stack of an error", () => {
    const written = captured();
    const logger = consoleLogger({ level: "info" });
    logger.debug("dropped");
    logger.info("request", { method: "POST", status: 200, note: "two words" });
    logger.error("tool threw", { tool: "boom", error: new Error("database exploded") });
    expect(written).toHaveLength(2);
    expect(written[0]).toBe('portcullis: info request method=POST status=200 note="two words"');
    const [head, ...stack] = written[1]!.split("\n");
    expect(head).toBe('portcullis: error tool threw tool=boom error="database exploded"');
    expect(stack[0]).toBe("  Error: database exploded");
    expect(stack.join("\n")).toContain("log.test.ts");
  });

  it("writes one JSON object per line with format json, causes included", () => {
    const written = captured();
    const cause = Object.assign(new Error("ECONNREFUSED"), { code: "ECONNREFUSED" });
    consoleLogger({ format: "json", level: "debug" }).warn("issuer down", {
      error: new Error("fetch failed", { cause }),
    });
    const line = JSON.parse(written[0]!);
    expect(line).toMatchObject({
      level: "warn",
      name: "portcullis",
      msg: "issuer down",
      error: { message: "fetch failed", cause: { message: "ECONNREFUSED", code: "ECONNREFUSED" } },
    });
    expect(new Date(line.time).getTime()).not.toBeNaN();
    expect(written[0]).not.toContain("\n");
  });

  it("takes LOG_LEVEL and LOG_FORMAT from the environment", () => {
    const written = captured();
    vi.stubEnv("LOG_LEVEL", "warn");
    vi.stubEnv("LOG_FORMAT", "json");
    const logger = consoleLogger();
    logger.info("dropped");
    logger.warn("kept");
    expect(written.map((line) => JSON.parse(line).msg)).toEqual(["kept"]);
    expect(logger.level).toBe("warn");
  });

  it("is silent under vitest unless a logger is given", () => {
    expect(resolveLogger(undefined)).toBe(silentLogger);
    const given = consoleLogger();
    expect(resolveLogger(given)).toBe(given);
    vi.stubEnv("VITEST", "");
    expect(resolveLogger(undefined)).not.toBe(silentLogger);
  });
});
