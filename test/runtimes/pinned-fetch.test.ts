/**
 * The SSRF guard's pinned connection on each runtime that has node:dns and node:http(s):
 * test/runtimes/pinned-probe.ts runs under Node, Bun and Deno and reports what it saw. The
 * connection goes to the vetted address only (two servers on one port at 127.0.0.2 and
 * 127.0.0.3, a resolver that changes its answer), the runtime's own resolver is the default,
 * TLS is verified against the name (SNI included) over the pinned connection, and a name
 * resolving to the metadata address is refused.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const bin = (name: string) => resolve(root, "node_modules/.bin", name);
const probe = "test/runtimes/pinned-probe.ts";
const cert = resolve(root, "test/fixtures/localhost-cert.pem");

const runtimes = [
  { name: "Node", command: bin("tsx"), args: [probe] },
  { name: "Bun", command: bin("bun"), args: [probe] },
  {
    name: "Deno",
    command: bin("deno"),
    // node:https on Deno reads the CA store: it needs sys access to "ca".
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys=ca",
      "--no-lock",
      probe,
    ],
  },
];

interface Report {
  runtime: string;
  pinned: { json?: unknown };
  calls: number;
  vettedHits: string[];
  impostorHits: string[];
  system: { json?: unknown };
  tls: { json?: unknown };
  tlsWrongName: { refused?: string; detail?: string };
  secureHits: string[];
  refused: { refused?: string; detail?: string };
}

function run(command: string, args: string[]): Promise<Report> {
  return new Promise((done, fail) => {
    execFile(
      command,
      args,
      {
        cwd: root,
        timeout: 60_000,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: cert,
          NO_COLOR: "1",
          DENO_NO_UPDATE_CHECK: "1",
          DO_NOT_TRACK: "1",
        },
      },
      (error, stdout, stderr) => {
        if (error) return fail(new Error(`${command} failed: ${error.message}\n${stderr}`));
        try {
          done(JSON.parse(stdout.trim().split("\n").at(-1)!) as Report);
        } catch {
          fail(new Error(`no report from ${command}:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe.each(runtimes)("the pinned connection under $name", (runtime) => {
  it("connects only to vetted addresses, resolves by itself, verifies TLS by name, refuses inward names", async () => {
    expect(existsSync(runtime.command), `${runtime.command} (npm ci installs it)`).toBe(true);
    const report = await run(runtime.command, runtime.args);
    expect(report.runtime.toLowerCase()).toContain(runtime.name.toLowerCase());
    expect(report.pinned).toEqual({ json: { server: "vetted" } });
    expect(report.calls).toBe(1);
    expect(report.vettedHits).toHaveLength(1);
    expect(report.vettedHits[0]).toMatch(/^localhost:\d+\/doc$/);
    expect(report.impostorHits).toEqual([]);
    expect(report.system).toEqual({ json: { server: "local" } });
    expect(report.tls).toEqual({ json: { server: "secure" } });
    expect(report.secureHits).toHaveLength(1);
    expect(report.secureHits[0]).toMatch(/^localhost:\d+\/doc sni=localhost$/);
    expect(report.tlsWrongName.refused).toBe("ERR_GUARD_FETCH_FAILED");
    expect(report.tlsWrongName.detail).toMatch(/altname|certificate/i);
    expect(report.refused.refused).toBe("ERR_GUARD_URL_REFUSED");
    expect(report.refused.detail).toContain("169.254.169.254");
  });
});
