/**
 * stdio and in-memory channels serve 2026-07-28 too: each request carries its `_meta`
 * envelope, no initialize needed; server/discover, tools/call (multi round-trip included)
 * and subscriptions/listen work as over HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCode, McpServer } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { META, modernMeta } from "../http/modern-support.ts";
import { channels, closeChannels, reply, request } from "./channel-support.ts";

type Json = Record<string, unknown>;

afterEach(closeChannels);

function server(): McpServer {
  const mcp = new McpServer({ name: "channel", version: "1.0.0" });
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => `echo: ${text}`);
  mcp.tool("ask", {}, async (_args, ctx) => {
    const answer = await ctx.elicit({ message: "Name?", schema: z.object({ name: z.string() }) });
    return answer.action === "accept" ? `hello ${answer.content.name}` : "no name";
  });
  return mcp;
}

for (const [name, connect] of Object.entries(channels)) {
  describe(`2026-07-28 ${name}`, () => {
    it("answers server/discover and tools/call without initialize", async () => {
      const channel = await connect(server());
      channel.send(request(1, "server/discover"));
      const discovered = (await reply(channel, 1)).result as Json;
      expect(discovered.supportedVersions).toContain("2026-07-28");
      expect(discovered.resultType).toBe("complete");

      channel.send(request(2, "tools/call", { name: "echo", arguments: { text: "hi" } }));
      const called = (await reply(channel, 2)).result as Json;
      expect(called.content).toEqual([{ type: "text", text: "echo: hi" }]);
      expect(called.resultType).toBe("complete");
      expect((called._meta as Json)[META.serverInfo]).toMatchObject({ name: "channel" });
    });

    it("refuses what the era lacks and an envelope it does not speak", async () => {
      const channel = await connect(server());
      channel.send(request(1, "ping"));
      expect(((await reply(channel, 1)).error as Json).code).toBe(ErrorCode.MethodNotFound);
      channel.send({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/list",
        params: { _meta: { [META.protocolVersion]: "2026-07-28" } },
      });
      expect(((await reply(channel, 2)).error as Json).code).toBe(ErrorCode.InvalidParams);
      channel.send({
        jsonrpc: "2.0",
        id: 3,
        method: "tools/list",
        params: { _meta: { ...modernMeta(), [META.protocolVersion]: "2099-01-01" } },
      });
      expect(((await reply(channel, 3)).error as Json).code).toBe(
        ErrorCode.UnsupportedProtocolVersion,
      );
    });

    it("runs a multi round-trip tool call: input_required, then the retry's answer", async () => {
      const channel = await connect(server());
      const capabilities = { elicitation: { form: {} } };
      channel.send(request(1, "tools/call", { name: "ask" }, capabilities));
      const round = (await reply(channel, 1)).result as Json;
      expect(round.resultType).toBe("input_required");
      const [key] = Object.keys(round.inputRequests as Json);
      channel.send(
        request(
          2,
          "tools/call",
          {
            name: "ask",
            requestState: round.requestState,
            inputResponses: { [key!]: { action: "accept", content: { name: "Ada" } } },
          },
          capabilities,
        ),
      );
      expect(((await reply(channel, 2)).result as Json).content).toEqual([
        { type: "text", text: "hello Ada" },
      ]);
    });

    it("streams subscriptions/listen on the channel until cancelled", async () => {
      const mcp = server();
      const channel = await connect(mcp);
      channel.send(
        request(7, "subscriptions/listen", { notifications: { toolsListChanged: true } }),
      );
      await until(() => channel.received.length > 0);
      expect(channel.received[0]).toMatchObject({
        method: "notifications/subscriptions/acknowledged",
        params: { notifications: { toolsListChanged: true }, _meta: { [META.subscriptionId]: 7 } },
      });
      mcp.tool("added", {}, () => "new");
      await until(() => channel.received.length > 1);
      expect(channel.received[1]).toMatchObject({
        method: "notifications/tools/list_changed",
        params: { _meta: { [META.subscriptionId]: 7 } },
      });
      channel.send({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: 7 },
      });
      expect((await reply(channel, 7)).result).toMatchObject({ resultType: "complete" });
      mcp.tool("later", {}, () => "later");
      channel.send(request(8, "tools/list"));
      await reply(channel, 8);
      expect(
        channel.received.filter((m) => m.method === "notifications/tools/list_changed"),
      ).toHaveLength(1);
    });
  });
}
