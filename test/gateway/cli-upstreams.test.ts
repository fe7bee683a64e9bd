/**
 * `portcullis gateway` config-file settings for stdio upstreams: a program that dies at
 * startup is reported with the last lines it wrote to stderr ("stderr": "capture"), and
 * malformed settings are usage errors.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { expect, it } from "vitest";
import { main } from "../../src/node/cli/main.ts";
import { tempDir } from "./support.ts";

async function run(config: unknown): Promise<{ status: number; stderr: string }> {
  const file = join(tempDir(), "gateway.json");
  writeFileSync(file, JSON.stringify(config));
  const stderr = new PassThrough();
  let text = "";
  stderr.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  const status = await main(["gateway", file, "--port", "0"], {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr,
    env: {},
  });
  return { status, stderr: text };
}

it("a stdio upstream that dies at startup is reported with its captured stderr", async () => {
  const dying = {
    command: process.execPath,
    args: ["-e", "console.error('config error: TICKETS_TOKEN is not set'); process.exit(3)"],
    stderr: "capture",
  };
  const { status, stderr } = await run({ upstreams: { tickets: dying } });
  expect(status).toBe(1);
  expect(stderr).toContain('The upstream "tickets" could not start');
  expect(stderr).toContain("[ERR_UPSTREAM_START]");
  expect(stderr).toContain("its stderr ended with:");
  expect(stderr).toContain("config error: TICKETS_TOKEN is not set");
});

it("refuses malformed stderr and startupSeconds settings as usage errors", async () => {
  const base = { command: process.execPath, args: ["-e", ""] };
  for (const extra of [
    { stderr: "pipe" },
    { stderr: true },
    { startupSeconds: 0 },
    { startupSeconds: "10" },
  ]) {
    const { status, stderr } = await run({ upstreams: { x: { ...base, ...extra } } });
    expect(status, JSON.stringify(extra)).toBe(2);
    expect(stderr).toMatch(/upstreams\.x\.(stderr|startupSeconds)/);
  }
});
