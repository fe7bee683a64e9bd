/**
 * MCP Apps (io.modelcontextprotocol/ui) on our server, read by our client over loopback HTTP in
 * both eras: the extension in capabilities, `ui://` views served as text/html;profile=mcp-app
 * with their CSP and permissions, tools linked to them with visibility, options checked at
 * registration, and a view a host must not render refused by the client.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  APP_MIME_TYPE,
  APPS_EXTENSION,
  type McpClient,
  ProtocolError,
  readToolUi,
} from "../../src/client/index.ts";
import {
  clientSupportsApps,
  McpServer,
  type ResourceContents,
  toBase64,
  uiApp,
} from "../../src/index.ts";
import { client, serve } from "../client/support.ts";

const VIEW = "<!doctype html><html><body><p id=count>0</p></body></html>";
const ERAS = [
  // 2025: a session, so the server remembers what the client declared at initialize.
  { era: "2025-11-25", options: { protocolVersion: "2025-11-25" }, serving: { sessions: true } },
  { era: "2026-07-28", options: {}, serving: {} },
];

function counterServer() {
  const mcp = new McpServer({ name: "apps", version: "1.0.0" });
  let count = 0;
  const counter = uiApp(mcp, {
    uri: "ui://counter/view",
    name: "Counter",
    description: "A counter you can click",
    html: VIEW,
    csp: {
      connectDomains: ["https://api.example.com"],
      resourceDomains: ["https://*.cdn.example"],
    },
    permissions: ["clipboardWrite"],
    prefersBorder: true,
  });
  counter.tool("show_counter", { description: "Shows the counter" }, () => `count: ${count}`);
  counter.tool(
    "increment",
    { visibility: ["app"], input: z.object({ by: z.number().int() }), _meta: { own: 1 } },
    ({ by }) => ({ count: (count += by) }),
  );
  mcp.tool("plain", {}, (_args, ctx) => `apps: ${clientSupportsApps(ctx)}`);
  return mcp;
}

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function connect(url: string, options = {}): Promise<McpClient> {
  const made = client(options).client;
  await made.connect(url);
  open.push(made);
  return made;
}

describe.each(ERAS)("an app over HTTP, $era", ({ options, serving }) => {
  it("declares the extension, lists the view and links the tools", async () => {
    const url = await serve(counterServer(), serving);
    const c = await connect(url, options);
    const extensions = c.serverCapabilities?.extensions as Record<string, unknown>;
    expect(extensions[APPS_EXTENSION]).toEqual({ mimeTypes: [APP_MIME_TYPE] });

    const tools = await c.listTools();
    const show = tools.tools.find((t) => t.name === "show_counter");
    const increment = tools.tools.find((t) => t.name === "increment");
    expect(show?._meta).toEqual({
      ui: { resourceUri: "ui://counter/view" },
      "ui/resourceUri": "ui://counter/view",
    });
    expect(increment?._meta).toEqual({
      own: 1,
      ui: { resourceUri: "ui://counter/view", visibility: ["app"] },
      "ui/resourceUri": "ui://counter/view",
    });
    expect(tools.tools.find((t) => t.name === "plain")?._meta).toBeUndefined();

    const { resources } = await c.listResources();
    expect(resources).toEqual([
      {
        uri: "ui://counter/view",
        name: "Counter",
        description: "A counter you can click",
        mimeType: APP_MIME_TYPE,
        _meta: {
          ui: {
            csp: {
              connectDomains: ["https://api.example.com"],
              resourceDomains: ["https://*.cdn.example"],
            },
            permissions: { clipboardWrite: {} },
            prefersBorder: true,
          },
        },
      },
    ]);
  });

  it("serves the view with its mime type and metadata, and the client reads it per tool", async () => {
    const url = await serve(counterServer(), serving);
    const c = await connect(url, options);
    const read = await c.readResource("ui://counter/view");
    expect(read.contents).toEqual([
      {
        uri: "ui://counter/view",
        mimeType: APP_MIME_TYPE,
        text: VIEW,
        _meta: { ui: expect.objectContaining({ prefersBorder: true }) },
      },
    ]);
    const ui = await readToolUi(c, "increment");
    expect(ui).toMatchObject({
      uri: "ui://counter/view",
      html: VIEW,
      visibility: ["app"],
      meta: { permissions: { clipboardWrite: {} }, prefersBorder: true },
    });
    expect(ui?.tool.name).toBe("increment");
    expect((await readToolUi(c, "show_counter"))?.visibility).toEqual(["model", "app"]);
    expect(await readToolUi(c, "plain")).toBeUndefined();
    expect(await readToolUi(c, "no_such_tool")).toBeUndefined();
    // The app-only tool is an ordinary tool on the wire: the host is who keeps it from the model.
    const result = await c.callTool("increment", { by: 2 });
    expect(
      result.structuredContent ?? JSON.parse((result.content[0] as { text: string }).text),
    ).toEqual({ count: 2 });
  });

  it("tells a tool whether its caller declared that it renders apps", async () => {
    const url = await serve(counterServer(), serving);
    const host = await connect(url, { ...options, apps: true });
    const other = await connect(url, options);
    expect((await host.callTool("plain")).content).toEqual([{ type: "text", text: "apps: true" }]);
    expect((await other.callTool("plain")).content).toEqual([
      { type: "text", text: "apps: false" },
    ]);
  });
});

describe("registration checks its options, and registers nothing when they fail", () => {
  const bad: [string, Record<string, unknown>][] = [
    ["a non-ui URI", { uri: "https://example.com/view" }],
    [
      "a CSP entry smuggling a directive",
      { csp: { connectDomains: ["https://a.example; script-src *"] } },
    ],
    ["a CSP keyword", { csp: { resourceDomains: ["'unsafe-eval'"] } }],
    ["a bare wildcard", { csp: { frameDomains: ["*"] } }],
    ["a data: source", { csp: { resourceDomains: ["data:"] } }],
    ["an unknown CSP key", { csp: { scriptDomains: ["https://a.example"] } }],
    ["a CSP list that is a string", { csp: { connectDomains: "https://a.example" } }],
    ["an unknown permission", { permissions: ["usb"] }],
    ["a domain with a space", { domain: "a b" }],
    ["a non-boolean border", { prefersBorder: "yes" }],
    ["no html", { html: undefined }],
  ];
  it.each(bad)("%s", (_label, override) => {
    const mcp = new McpServer({ name: "apps", version: "1.0.0" });
    const options = { uri: "ui://x/view", html: VIEW, ...override };
    expect(() => uiApp(mcp, options as never)).toThrow(TypeError);
    expect(mcp.resources.size).toBe(0);
    expect(mcp.capabilities().extensions).toBeUndefined();
  });

  it("a visibility that is empty or names someone else", () => {
    const mcp = new McpServer({ name: "apps", version: "1.0.0" });
    const app = uiApp(mcp, { uri: "ui://x/view", html: VIEW });
    expect(() => app.tool("a", { visibility: [] }, () => "")).toThrow(TypeError);
    expect(() => app.tool("b", { visibility: ["user" as "app"] }, () => "")).toThrow(TypeError);
    expect(mcp.tools.size).toBe(0);
  });

  it("legacyKey: false sends only _meta.ui", async () => {
    const mcp = new McpServer({ name: "apps", version: "1.0.0" });
    uiApp(mcp, { uri: "ui://x/view", html: VIEW, legacyKey: false }).tool("t", {}, () => "");
    const c = await connect(await serve(mcp));
    const [tool] = (await c.listTools()).tools;
    expect(tool?._meta).toEqual({ ui: { resourceUri: "ui://x/view" } });
  });

  it("a view made per request sees the reading client", async () => {
    const mcp = new McpServer({ name: "apps", version: "1.0.0" });
    uiApp(mcp, {
      uri: "ui://x/view",
      html: (ctx) => `<!doctype html><p>${ctx.client.info?.name}</p>`,
    }).tool("t", {}, () => "");
    const c = await connect(await serve(mcp));
    expect((await readToolUi(c, "t"))?.html).toBe("<!doctype html><p>test-client</p>");
  });
});

describe("what a client refuses to hand a host as a view", () => {
  /** A server whose tool names a ui:// resource that is not an app view. */
  async function serverWith(
    contents: Record<string, unknown>,
    listed: Record<string, unknown> = {},
  ) {
    const mcp = new McpServer({ name: "odd", version: "1.0.0" });
    mcp.resource("ui://odd/view", { name: "odd", ...listed }, () => ({
      contents: [{ uri: "ui://odd/view", ...contents } as unknown as ResourceContents],
    }));
    mcp.tool("odd", { _meta: { ui: { resourceUri: "ui://odd/view" } } }, () => "");
    mcp.tool("elsewhere", { _meta: { ui: { resourceUri: "https://evil.example/x" } } }, () => "");
    return connect(await serve(mcp));
  }

  it("plain text/html", async () => {
    const c = await serverWith({ mimeType: "text/html", text: VIEW });
    await expect(readToolUi(c, "odd")).rejects.toSatisfy(
      (e) => e instanceof ProtocolError && e.code === "ERR_CONTRACT",
    );
  });

  it("a view with neither text nor blob, and a blob that is not UTF-8", async () => {
    const empty = await serverWith({ mimeType: APP_MIME_TYPE });
    await expect(readToolUi(empty, "odd")).rejects.toBeInstanceOf(ProtocolError);
    const binary = await serverWith({
      mimeType: APP_MIME_TYPE,
      blob: toBase64(new Uint8Array([0xff, 0xfe, 0xfd])),
    });
    await expect(readToolUi(binary, "odd")).rejects.toBeInstanceOf(ProtocolError);
  });

  it("a resourceUri that is not ui:// is no view at all", async () => {
    const c = await serverWith({ mimeType: APP_MIME_TYPE, text: VIEW });
    expect(await readToolUi(c, "elsewhere")).toBeUndefined();
  });

  it("a base64 view is decoded, and the listing's metadata stands in for the content's", async () => {
    const c = await serverWith(
      { mimeType: APP_MIME_TYPE, blob: toBase64(new TextEncoder().encode(VIEW)) },
      { mimeType: APP_MIME_TYPE, _meta: { ui: { prefersBorder: false } } },
    );
    expect(await readToolUi(c, "odd")).toMatchObject({
      html: VIEW,
      meta: { prefersBorder: false },
    });
  });
});
