/**
 * An MCP App end to end in headless Chromium: our protected server serves the view and its
 * tools; a host page on another loopback origin finds the view with our McpClient and renders
 * it in a sandboxed iframe through the official AppBridge (@modelcontextprotocol/ext-apps);
 * the view, built on the official App class, completes the ui/initialize handshake, receives
 * the tool result, calls an app-only tool on our server through the host, and is refused a
 * model-only one. Both protocol eras.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Hono } from "hono";
import type { Browser, Frame, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, mcpApp, uiApp } from "../../src/index.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { listen } from "../helpers/http.ts";
import { AUDIENCE, type JwtIssuer, startJwtIssuer } from "../helpers/jwt.ts";
import type { HostOutcome } from "./apps/host.ts";

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text.replaceAll("</script", "<\\/script");
}

let browser: Browser;
let idp: JwtIssuer;
let token: string;
let endpoint: string;
let hostOrigin: string;
const calls: { tool: string; subject: string | undefined }[] = [];

beforeAll(async () => {
  const [viewScript, hostScript] = await Promise.all([
    bundle("./apps/view.ts"),
    bundle("./apps/host.ts"),
  ]);
  idp = await startJwtIssuer();
  token = await idp.sign({ sub: "ada" });
  const host = new Hono().get("/", (c) =>
    c.html(`<!doctype html><title>host</title><script>${hostScript}</script>`),
  );
  hostOrigin = await listen(host);

  const mcp = new McpServer({ name: "counter", version: "1.0.0" });
  let count = 0;
  const counter = uiApp(mcp, {
    uri: "ui://counter/view",
    name: "Counter",
    html:
      "<!doctype html><html><head><title>counter</title></head><body>" +
      '<p id="status">loading</p><p id="host"></p><p id="input"></p><p id="result"></p>' +
      '<p id="count"></p><p id="refused"></p>' +
      `<script>${viewScript}</script></body></html>`,
    prefersBorder: true,
  });
  const record = (tool: string, subject: string | undefined) => calls.push({ tool, subject });
  counter.tool("show_counter", { description: "Shows the counter" }, (_args, ctx) => {
    record("show_counter", ctx.auth?.subject);
    return `count: ${count}`;
  });
  counter.tool(
    "increment",
    {
      visibility: ["app"],
      input: z.object({ by: z.number().int() }),
      output: z.object({ count: z.number() }),
    },
    ({ by }, ctx) => {
      record("increment", ctx.auth?.subject);
      count += by;
      return { count };
    },
  );
  counter.tool("reset", { visibility: ["model"] }, (_args, ctx) => {
    record("reset", ctx.auth?.subject);
    count = 0;
    return "reset";
  });
  const app = mcpApp(mcp, {
    path: "/mcp",
    auth: { issuer: idp.issuer, verify: idp.verify, audience: AUDIENCE },
    allowedOrigins: [hostOrigin],
    sessions: true,
  });
  endpoint = `${await listen(app)}/mcp`;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

/** The view's frame, once the host has put its iframe in the page. */
async function viewFrame(page: Page): Promise<Frame> {
  const iframe = await page.waitForSelector("iframe", { timeout: 30_000 });
  const frame = await iframe.contentFrame();
  if (!frame) throw new Error("the view's iframe has no frame");
  return frame;
}

describe.each([
  { era: "2026-07-28", protocolVersion: undefined },
  { era: "2025-11-25", protocolVersion: "2025-11-25" },
])("an app in a browser host, $era", ({ era, protocolVersion }) => {
  it("renders the view, which calls an app-only tool through the host", async () => {
    calls.length = 0;
    const page = await browser.newPage();
    try {
      await page.goto(hostOrigin);
      const outcome = await page.evaluate(
        (options) =>
          (window as unknown as { runHost: (o: unknown) => Promise<HostOutcome> }).runHost(options),
        { endpoint, token, ...(protocolVersion ? { protocolVersion } : {}) },
      );
      expect(outcome.protocolVersion).toBe(era);
      expect(outcome.uri).toBe("ui://counter/view");
      // The host keeps the app-only tool from the model, and the model-only one from the view.
      expect(outcome.modelTools.sort()).toEqual(["reset", "show_counter"]);
      expect(outcome.csp).toContain("connect-src 'none'");

      const frame = await viewFrame(page);
      await frame.waitForSelector("#status:text('done')", { timeout: 30_000 });
      expect(await frame.textContent("#host")).toBe("browser-host");
      expect(await frame.textContent("#input")).toBe("{}");
      expect(await frame.textContent("#result")).toBe("count: 0");
      expect(await frame.textContent("#count")).toBe("2");
      expect(await frame.textContent("#refused")).toMatch(/not open to apps/);

      const seen = await page.evaluate(
        () => (window as unknown as { hostOutcome: HostOutcome }).hostOutcome,
      );
      expect(seen.context).toEqual([{ count: 2 }]);
      expect(seen.refusedCalls).toEqual(["reset"]);
      // The server ran the model's call and the view's, both as the signed-in user, and never
      // the refused one.
      expect(calls).toEqual([
        { tool: "show_counter", subject: "ada" },
        { tool: "increment", subject: "ada" },
      ]);
      // Reset for the next era: the model may call it.
      const reset = await fetch(endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${token}`,
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": "reset",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: {
            name: "reset",
            arguments: {},
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientInfo": { name: "model", version: "1" },
              "io.modelcontextprotocol/clientCapabilities": {},
            },
          },
        }),
      });
      expect(reset.status).toBe(200);
    } finally {
      await page.close();
    }
  }, 120_000);
});
