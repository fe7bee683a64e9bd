/** serveQueue and queueTransport check their options when built, not at the first message. */
import { describe, expect, it } from "vitest";
import { McpServer } from "../../src/index.ts";
import { queueTransport, type ServeQueueOptions, serveQueue } from "../../src/queue/index.ts";
import { memoryStore } from "../../src/storage/index.ts";

const mcp = new McpServer({ name: "opts", version: "1.0.0" });
const valid: ServeQueueOptions = {
  send: async () => {},
  deadLetter: async () => {},
  store: memoryStore(),
};

describe("serveQueue options", () => {
  it("refuses what cannot work", () => {
    const bad = (options: Record<string, unknown>) => () =>
      serveQueue(mcp, { ...valid, ...options } as unknown as ServeQueueOptions);
    expect(bad({ send: undefined })).toThrow(/send and deadLetter/);
    expect(bad({ store: {} as ServeQueueOptions["store"] })).toThrow(/store/);
    expect(bad({ auth: { issuer: "https://idp.example.test" } })).toThrow(/audience/);
    expect(bad({ leaseMs: 0 })).toThrow(/leaseMs/);
    expect(bad({ maxAttempts: -1 })).toThrow(/maxAttempts/);
    expect(() =>
      queueTransport({ send: async () => {}, receive: async function* () {}, replyTo: "" }),
    ).toThrow(/replyTo/);
  });

  it("takes a third-party issuer's audience as the token audience", async () => {
    const server = serveQueue(mcp, {
      ...valid,
      auth: { issuer: "https://idp.example.test", audience: "https://mcp.example.test/mcp" },
    });
    await server.close();
  });
});
