/**
 * A browser page on another loopback origin speaking both eras to a protected endpoint with
 * `allowedOrigins`: the preflights must allow the 2026-07-28 metadata headers (Mcp-Method,
 * Mcp-Name, Mcp-Param-*) and the bearer token, and the 2025 session header must be readable.
 * Headless Chromium enforces CORS for real; a header the server did not allow fails the fetch.
 */
import { Hono } from "hono";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, mcpApp } from "../../src/index.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { listen } from "../helpers/http.ts";
import { AUDIENCE, type JwtIssuer, startJwtIssuer } from "../helpers/jwt.ts";

let browser: Browser;
let idp: JwtIssuer;
let token: string;
let endpoint: string;
let pageOrigin: string;
let strangerOrigin: string;

beforeAll(async () => {
  idp = await startJwtIssuer();
  token = await idp.sign({ sub: "ada" });
  // Two page origins on loopback: one the endpoint admits, one it does not.
  const page = new Hono().get("/", (c) => c.html("<!doctype html><title>client</title>"));
  pageOrigin = await listen(page);
  strangerOrigin = await listen(new Hono().get("/", (c) => c.html("<!doctype html><p>other")));
  const mcp = new McpServer({ name: "cors", version: "1.0.0" });
  mcp.tool(
    "where",
    { input: z.object({ region: z.string().meta({ "x-mcp-header": "Region" }) }) },
    ({ region }) => `in ${region}`,
  );
  const app = mcpApp(mcp, {
    path: "/mcp",
    auth: { issuer: idp.issuer, verify: idp.verify, audience: AUDIENCE },
    allowedOrigins: [pageOrigin],
    sessions: true,
  });
  endpoint = `${await listen(app)}/mcp`;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

interface Outcome {
  ok: boolean;
  status?: number;
  body?: unknown;
  sessionId?: string | null;
  error?: string;
}

/** Runs `fetch` in a page of `origin` against the endpoint, as the page's own script would. */
async function fromPage(origin: string, headers: Record<string, string>, body: unknown) {
  const page = await browser.newPage();
  try {
    await page.goto(origin);
    return await page.evaluate(
      async ({ url, headers, body }): Promise<Outcome> => {
        try {
          const response = await fetch(url, {
            method: "POST",
            headers,
            body: JSON.stringify(body),
          });
          const text = await response.text();
          // One JSON body, or one SSE event carrying it.
          const json = text.startsWith("{")
            ? text
            : text
                .split("\n")
                .find((line) => line.startsWith("data: "))
                ?.slice(6);
          const data = json ? JSON.parse(json) : text;
          return {
            ok: true,
            status: response.status,
            body: data,
            sessionId: response.headers.get("mcp-session-id"),
          };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      },
      { url: endpoint, headers, body },
    );
  } finally {
    await page.close();
  }
}

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "page", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

function modernHeaders(bearer: string): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${bearer}`,
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "where",
    "mcp-param-region": "eu-west1",
  };
}

const modernCall = {
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "where", arguments: { region: "eu-west1" }, _meta: META },
};

describe("a page on an allowed origin", () => {
  it("2026-07-28: a tool call with Mcp-Method, Mcp-Name and Mcp-Param-Region", async () => {
    const outcome = await fromPage(pageOrigin, modernHeaders(token), modernCall);
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(outcome.body).toMatchObject({
      id: 1,
      result: { content: [{ type: "text", text: "in eu-west1" }] },
    });
  }, 60_000);

  it("2025-11-25: initialize with a bearer token, and the session id is readable", async () => {
    const outcome = await fromPage(
      pageOrigin,
      {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${token}`,
      },
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "page", version: "1.0.0" },
        },
      },
    );
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(outcome.sessionId).toMatch(/\S/);
  }, 60_000);

  it("without a token: the 401 and its WWW-Authenticate reach the page", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(pageOrigin);
      const seen = await page.evaluate(async (url) => {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: "{}",
        });
        return { status: response.status, challenge: response.headers.get("www-authenticate") };
      }, endpoint);
      expect(seen.status).toBe(401);
      expect(seen.challenge).toMatch(/^Bearer /);
    } finally {
      await page.close();
    }
  }, 60_000);
});

describe("what CORS refuses", () => {
  it("a page on another origin cannot call at all", async () => {
    const outcome = await fromPage(strangerOrigin, modernHeaders(token), modernCall);
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/Failed to fetch/);
  }, 60_000);

  it("a request header outside the allowed names and prefixes fails the preflight", async () => {
    const outcome = await fromPage(
      pageOrigin,
      { ...modernHeaders(token), "x-smuggled": "1" },
      modernCall,
    );
    expect(outcome.ok).toBe(false);
  }, 60_000);

  it("a preflight reflects only the Mcp-Param-* names asked for, never other names", async () => {
    const response = await fetch(endpoint, {
      method: "OPTIONS",
      headers: {
        origin: pageOrigin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "mcp-param-region, x-smuggled, mcp-param-, mcp-method",
      },
    });
    const allowed = (response.headers.get("access-control-allow-headers") ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase());
    expect(allowed).toContain("mcp-param-region");
    expect(allowed).toContain("mcp-method");
    expect(allowed).toContain("mcp-name");
    expect(allowed).toContain("authorization");
    expect(allowed).not.toContain("x-smuggled");
    expect(allowed).not.toContain("mcp-param-");
    expect(response.headers.get("access-control-allow-origin")).toBe(pageOrigin);
  });
});
