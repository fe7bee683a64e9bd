/**
 * Webhook URLs are a stranger's say-so too: a name that resolves to a loopback, private or
 * metadata address is refused at the request with the message every refused URL gets, is
 * checked again at each delivery, and a delivery goes only to the address that was vetted.
 * Names are answered by a resolver passed as `resolveHost` (there is no DNS here), except
 * where the default, the system resolver, is the point.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, type WebhookFailure, type WebhookOptions } from "../../../src/index.ts";
import {
  deferred,
  errorOf,
  newSecret,
  resultOf,
  SessionClient,
  start,
  webhookReceiver,
} from "./support.ts";

const WEBHOOK = "portcullis/webhook";
const PUBLIC = "93.184.216.34";

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
});

/** A server on one loopback address that records the requests it gets and answers 200. */
async function recorder(address: string, port = 0) {
  const hits: string[] = [];
  const first = deferred<string>();
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    first.resolve(address);
    request.resume();
    request.on("end", () => response.end());
  });
  await new Promise<void>((done) => server.listen(port, address, done));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, hits, first: first.promise };
}

function resolver(answer: (host: string, call: number) => readonly string[]) {
  const asked: string[] = [];
  return {
    asked,
    resolveHost: async (host: string) => {
      asked.push(host);
      return answer(host, asked.length);
    },
  };
}

function server(webhooks: WebhookOptions) {
  const mcp = new McpServer({ name: "hooks", version: "1.0.0", tasks: { webhooks } });
  const gate = deferred<string>();
  const started: string[] = [];
  mcp.tool(
    "job",
    { input: z.object({ label: z.string() }), taskSupport: "optional" },
    async ({ label }) => {
      started.push(label);
      return `job ${label}: ${await gate.promise}`;
    },
  );
  return { mcp, gate, started };
}

async function callWithHook(client: SessionClient, url: string, label = "x") {
  return client.request("tools/call", {
    name: "job",
    arguments: { label },
    task: {},
    _meta: { [WEBHOOK]: { url, secret: newSecret() } },
  });
}

describe("webhook URLs whose names resolve inward", () => {
  it("are refused at the request with the message any refused URL gets, before any work", async () => {
    const names: Record<string, readonly string[]> = {
      "loopback.attacker.test": ["127.0.0.1"],
      "private.attacker.test": ["10.0.0.8"],
      "metadata.attacker.test": ["169.254.169.254"],
      "v6metadata.attacker.test": ["fd00:ec2::254"],
      "mapped.attacker.test": ["::ffff:127.0.0.1"],
      "mixed.attacker.test": [PUBLIC, "192.168.1.1"],
    };
    const dns = resolver((host) => {
      if (host === "nxdomain.attacker.test") throw new Error("ENOTFOUND");
      return names[host] ?? [PUBLIC];
    });
    const hooks = server({ resolveHost: dns.resolveHost });
    const client = await SessionClient.open(await start(hooks.mcp, { sessions: true }));
    const literal = errorOf(await callWithHook(client, "https://10.0.0.8/hook"));
    expect(literal.code).toBe(-32602);
    for (const host of [...Object.keys(names), "nxdomain.attacker.test"]) {
      const error = errorOf(await callWithHook(client, `https://${host}/hook`));
      expect(error.code, host).toBe(-32602);
      // Whatever the name resolved to (or not), the caller is told the same thing.
      expect(error.message, host).toBe(literal.message);
      expect(error.message).not.toMatch(/127\.0\.0\.1|10\.0\.0\.8|169\.254|fd00|192\.168|resolve/);
    }
    expect(hooks.started).toEqual([]);
  });

  it("a name that rebinds to loopback after the request is not delivered to", async () => {
    const receiver = await webhookReceiver(newSecret());
    const port = new URL(receiver.url).port;
    const dns = resolver((_host, call) => (call === 1 ? [PUBLIC] : ["127.0.0.1"]));
    const gaveUp = deferred<WebhookFailure>();
    const hooks = server({
      resolveHost: dns.resolveHost,
      maxAttempts: 3,
      retryDelayMs: 5,
      onFailure: (failure) => gaveUp.resolve(failure),
    });
    const client = await SessionClient.open(await start(hooks.mcp, { sessions: true }));
    const url = `https://hooks.attacker.test:${port}/hook`;
    const created = resultOf(await callWithHook(client, url, "rebound"));
    const taskId = (created.task as { taskId: string }).taskId;
    hooks.gate.resolve("done");
    const failure = await gaveUp.promise;
    // Refused, not failed: no retries against an address that is not allowed.
    expect(failure).toMatchObject({ taskId, url, attempts: 1 });
    expect(failure.reason).toContain("127.0.0.1");
    expect(receiver.deliveries).toEqual([]);
    expect(dns.asked).toEqual(["hooks.attacker.test", "hooks.attacker.test"]);
    const result = resultOf(await client.request("tasks/result", { taskId }));
    expect(result.content).toEqual([{ type: "text", text: "job rebound: done" }]);
  });
});

describe("deliveries go to the vetted address", () => {
  it("a delivery connects to the address its own check vetted, not to a later answer", async () => {
    const vetted = await recorder("127.0.0.2");
    const impostor = await recorder("127.0.0.3", vetted.port);
    // The request's check and the delivery's check see 127.0.0.2; anything after, 127.0.0.3.
    const dns = resolver((_host, call) => (call <= 2 ? ["127.0.0.2"] : ["127.0.0.3"]));
    const hooks = server({ allowLoopback: true, resolveHost: dns.resolveHost, maxAttempts: 1 });
    const client = await SessionClient.open(await start(hooks.mcp, { sessions: true }));
    const created = resultOf(
      await callWithHook(client, `http://localhost:${vetted.port}/hook`, "pinned"),
    );
    expect(created.task).toMatchObject({ status: "working" });
    hooks.gate.resolve("ok");
    expect(await Promise.race([vetted.first, impostor.first])).toBe("127.0.0.2");
    expect(vetted.hits).toEqual(["POST /hook"]);
    expect(impostor.hits).toEqual([]);
    expect(dns.asked).toEqual(["localhost", "localhost"]);
  });

  it("without a resolver passed in, the system's resolves localhost and the delivery arrives signed", async () => {
    const secret = newSecret();
    const receiver = await webhookReceiver(secret);
    const hooks = server({ allowLoopback: true });
    const client = await SessionClient.open(await start(hooks.mcp, { sessions: true }));
    const url = receiver.url.replace("127.0.0.1", "localhost");
    resultOf(
      await client.request("tools/call", {
        name: "job",
        arguments: { label: "system" },
        task: {},
        _meta: { [WEBHOOK]: { url, secret } },
      }),
    );
    hooks.gate.resolve("resolved");
    const delivery = await receiver.next();
    expect(delivery.verified).toBe(true);
    expect(delivery.headers.host).toBe(new URL(url).host);
  });
});
