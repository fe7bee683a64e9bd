/**
 * A user's own Worker (its own wrangler.toml and src/index.ts importing portcullis from the
 * installed tarball), built and run by our pinned wrangler in workerd on loopback: its
 * /authorize page renders, and a tool call works after signing in with the compiled CLI.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { bin, expectSignInForm, portcullis, signInPage, start } from "./support.ts";

const { worker } = inject("consumer");
const state = await mkdtemp(join(tmpdir(), "portcullis-consumer-wrangler-"));
afterAll(() => rm(state, { recursive: true, force: true }));

/** A port nothing listens on right now (wrangler dev cannot take 0). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

describe("a user's own Worker under wrangler dev", () => {
  it("renders /authorize and answers a tool call after signing in", async () => {
    const port = await freePort();
    const dev = start(
      bin("wrangler"),
      [
        "dev",
        ["--port", String(port), "--ip", "127.0.0.1", "--persist-to", state],
        ["--var", `ISSUER:http://localhost:${port}`],
      ].flat(),
      { cwd: worker, env: { CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false" } },
    );
    await dev.waitFor(/Ready on http:\/\/\S+/, 90_000);
    // Dev login on a Worker needs a configured loopback issuer (localhost is one).
    const base = `http://localhost:${port}`;

    expectSignInForm(await signInPage(base, `${base}/mcp`));

    const cli = await portcullis(process.execPath, worker, [
      "call",
      `${base}/mcp`,
      "echo",
      "--args",
      '{"text":"in a worker"}',
      "--no-open",
      "--timeout",
      "60",
      "--auth-timeout",
      "120",
    ]);
    expect(cli.stderr).not.toMatch(/^portcullis:/m);
    expect(cli.code).toBe(0);
    expect(cli.page).toBeDefined();
    expectSignInForm(cli.page!);
    const result = JSON.parse(cli.stdout) as { content: { text: string }[] };
    // navigator.userAgent is "Cloudflare-Workers" in workerd only.
    expect(result.content[0]?.text).toBe("in a worker (from carol on Cloudflare-Workers)");
  });
});
