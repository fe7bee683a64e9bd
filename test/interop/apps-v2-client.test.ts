/**
 * Interop for MCP Apps with the official v2 client (`@modelcontextprotocol/client` 2.x) and the
 * official Apps SDK (`@modelcontextprotocol/ext-apps`), against our server over loopback HTTP:
 * the client declares the extension and our tools see it; the SDK's own host helpers read our
 * tool metadata; and the SDK's App and AppBridge, joined in memory, with the official client
 * as the bridge's upstream, run a view's tool call through to our server. Both eras.
 */
import {
  Client as ClientV2,
  InMemoryTransport,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import { App } from "@modelcontextprotocol/ext-apps";
import {
  AppBridge,
  getToolUiResourceUri,
  isToolVisibilityAppOnly,
  isToolVisibilityModelOnly,
} from "@modelcontextprotocol/ext-apps/app-bridge";
import {
  EXTENSION_ID,
  getUiCapability,
  RESOURCE_MIME_TYPE,
} from "@modelcontextprotocol/ext-apps/server";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { clientSupportsApps, McpServer, mcpApp, uiApp } from "../../src/index.ts";
import { listen } from "../helpers/http.ts";

const VIEW = "<!doctype html><html><head></head><body>counter</body></html>";

function buildServer() {
  const mcp = new McpServer({ name: "apps-interop", version: "1.0.0" });
  let count = 0;
  const app = uiApp(mcp, {
    uri: "ui://counter/view",
    name: "Counter",
    html: VIEW,
    csp: { connectDomains: ["https://api.example.com"] },
    permissions: ["camera"],
  });
  app.tool("show_counter", { description: "Shows the counter" }, (_args, ctx) => {
    return `count ${count}; host renders apps: ${clientSupportsApps(ctx)}`;
  });
  app.tool(
    "increment",
    {
      visibility: ["app"],
      input: z.object({ by: z.number() }),
      output: z.object({ count: z.number() }),
    },
    ({ by }) => ({ count: (count += by) }),
  );
  app.tool("reset", { visibility: ["model"] }, () => {
    count = 0;
    return "reset";
  });
  return mcp;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function connect(url: URL, mode: "auto" | "legacy"): Promise<ClientV2> {
  const client = new ClientV2(
    { name: "sdk-v2-host", version: "2.0.0" },
    {
      capabilities: { extensions: { [EXTENSION_ID]: { mimeTypes: [RESOURCE_MIME_TYPE] } } },
      ...(mode === "auto" ? { versionNegotiation: { mode: "auto" as const } } : {}),
    },
  );
  await client.connect(new StreamableHTTPClientTransport(url));
  closers.push(() => client.close());
  return client;
}

describe.each(["auto", "legacy"] as const)("the official v2 client (%s negotiation)", (mode) => {
  async function serve(): Promise<URL> {
    return new URL(`${await listen(mcpApp(buildServer(), { path: "/mcp", sessions: true }))}/mcp`);
  }

  it("sees the extension, and the Apps SDK's host helpers read our tools", async () => {
    const client = await connect(await serve(), mode);
    expect(getUiCapability(client.getServerCapabilities() as never)).toEqual({
      mimeTypes: [RESOURCE_MIME_TYPE],
    });
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(getToolUiResourceUri(byName.get("show_counter")!)).toBe("ui://counter/view");
    expect(isToolVisibilityAppOnly(byName.get("increment")!)).toBe(true);
    expect(isToolVisibilityModelOnly(byName.get("reset")!)).toBe(true);
    expect(isToolVisibilityAppOnly(byName.get("show_counter")!)).toBe(false);

    const read = await client.readResource({ uri: "ui://counter/view" });
    expect(read.contents[0]).toMatchObject({
      uri: "ui://counter/view",
      mimeType: RESOURCE_MIME_TYPE,
      text: VIEW,
      _meta: {
        ui: { csp: { connectDomains: ["https://api.example.com"] }, permissions: { camera: {} } },
      },
    });
    const shown = await client.callTool({ name: "show_counter", arguments: {} });
    expect(shown.content).toEqual([{ type: "text", text: "count 0; host renders apps: true" }]);
  });

  it("the official App calls our tool through the official AppBridge and client", async () => {
    const client = await connect(await serve(), mode);
    const bridge = new AppBridge(
      client as never,
      { name: "sdk-host", version: "1.0.0" },
      { serverTools: {} },
    );
    const view = new App({ name: "counter-view", version: "1.0.0" }, {}, { autoResize: false });
    const [hostSide, viewSide] = InMemoryTransport.createLinkedPair();
    const initialized = new Promise<void>((resolve) => {
      bridge.oninitialized = () => resolve();
    });
    await bridge.connect(hostSide as never);
    await view.connect(viewSide as never);
    closers.push(async () => {
      await view.close();
      await bridge.close();
    });
    await initialized;
    const result = await view.callServerTool({ name: "increment", arguments: { by: 3 } });
    expect(result.structuredContent).toEqual({ count: 3 });
    const again = await view.callServerTool({ name: "increment", arguments: { by: 1 } });
    expect(again.structuredContent).toEqual({ count: 4 });
    const view2 = await view.readServerResource({ uri: "ui://counter/view" });
    expect(view2.contents[0]).toMatchObject({ mimeType: RESOURCE_MIME_TYPE });
  });
});
