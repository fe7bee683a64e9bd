/**
 * portcullis/node's audit sinks: events appended to a file as JSON lines by a real
 * authorization server, and a file that cannot be written logged without breaking a grant.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../src/auth/index.ts";
import { auditFile } from "../../src/node/index.ts";
import { form, MACHINE, machineClient, startServer } from "../auth/security/support.ts";
import { until } from "../helpers/async.ts";
import { capturingLogger } from "../helpers/log.ts";

const basic = `Basic ${btoa(`${MACHINE.clientId}:${MACHINE.secret}`)}`;

async function clientCredentials(base: string): Promise<string> {
  const response = await fetch(`${base}/token`, {
    ...form({ grant_type: "client_credentials", resource: `${base}/mcp` }),
    headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("auditFile", () => {
  it("appends one JSON line per event, after what the file held", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "audit-")), "audit.jsonl");
    writeFileSync(path, '{"earlier":true}\n');
    const sink = auditFile(path);
    const server = await startServer({ audit: sink, clients: [machineClient()] });
    const tokens = [await clientCredentials(server.base), await clientCredentials(server.base)];
    await sink.close();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    expect(lines[0]).toBe('{"earlier":true}');
    const events = lines.slice(1).map((line) => JSON.parse(line) as AuditEvent);
    expect(events.map((event) => event.type)).toEqual([
      "client_credentials.granted",
      "client_credentials.granted",
    ]);
    expect(events[0]).toMatchObject({ clientId: MACHINE.clientId, scopes: ["notes:read"] });
    const text = readFileSync(path, "utf8");
    for (const secret of [...tokens, MACHINE.secret]) expect(text.includes(secret)).toBe(false);
  });

  it("a file that cannot be opened is logged once; grants go on", async () => {
    const logger = capturingLogger();
    const path = join(mkdtempSync(join(tmpdir(), "audit-")), "missing-dir", "audit.jsonl");
    const server = await startServer({
      audit: auditFile(path),
      clients: [machineClient()],
      logger,
    });
    await clientCredentials(server.base);
    await clientCredentials(server.base);
    const failures = () => logger.at("error").filter((line) => line.message.includes("audit"));
    await until(() => failures().length > 0);
    expect(failures()).toHaveLength(1);
    expect(String(failures()[0]!.fields.kind)).toContain("ENOENT");
  });
});
