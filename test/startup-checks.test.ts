/**
 * Misconfiguration fails at construction with a message that says what to do (issue 12,
 * "Fail loudly at startup"), instead of a 500, a TypeError or an open endpoint at the first
 * request. Each case is the mistake a user made, in plain JavaScript where types would not
 * catch it.
 */
import { describe, expect, it } from "vitest";
import {
  type AuthorizationServerOptions,
  authorizationServer,
  devLogin,
} from "../src/auth/index.ts";
import { McpServer, mcpRoute } from "../src/index.ts";
import { memoryStore } from "../src/storage/index.ts";

/** Options as plain JavaScript may pass them. */
const untyped = (options: Record<string, unknown>) =>
  options as unknown as AuthorizationServerOptions;

describe("mcpRoute", () => {
  it("refuses `auth`, which it would ignore, and says what protects the endpoint", () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    const as = authorizationServer({ store: memoryStore(), login: devLogin() });
    for (const auth of [as, { issuer: "https://idp.example.com" }]) {
      expect(() => mcpRoute(mcp, { auth } as never)).toThrow(/mcpApp\(server, \{ auth/);
    }
    expect(() => mcpRoute(mcp, {})).not.toThrow();
  });
});

describe("authorizationServer", () => {
  it("needs a store", () => {
    expect(() => authorizationServer(untyped({ login: devLogin() }))).toThrow(
      /needs a store: memoryStore\(\)/,
    );
  });

  it("needs a login provider", () => {
    expect(() => authorizationServer(untyped({ store: memoryStore() }))).toThrow(
      /needs a login provider: devLogin\(\)/,
    );
    expect(() => authorizationServer(untyped({ store: memoryStore(), login: {} }))).toThrow(
      /needs a login provider/,
    );
  });

  it.each([
    ["a query", "https://auth.example.com/?tenant=a", /no query or fragment/],
    ["a fragment", "https://auth.example.com/#x", /no query or fragment/],
    ["an empty query", "https://auth.example.com/?", /no query or fragment/],
    ["a relative URL", "/auth", /absolute URL/],
    ["another scheme", "ftp://auth.example.com", /https URL/],
  ])("refuses an issuer with %s", (_name, issuer, message) => {
    expect(() =>
      authorizationServer({ store: memoryStore(), login: devLogin({ force: true }), issuer }),
    ).toThrow(message);
  });

  it("refuses dev login on a public issuer, naming it", () => {
    expect(() =>
      authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        issuer: "https://auth.example.com",
      }),
    ).toThrow(/devLogin\(\) refuses to run on https:\/\/auth\.example\.com/);
  });
});

describe("tool names", () => {
  const mcp = new McpServer({ name: "s", version: "1" });

  it.each([["my tool!"], [""], ["a".repeat(129)], ["notes/read"], ["naïve"]])(
    "refuses %j at registration, saying what is allowed",
    (name) => {
      expect(() => mcp.tool(name, {}, () => "x")).toThrow(
        /is not valid: use 1 to 128 letters, digits, "_", "-" or "\."/,
      );
      expect(mcp.tools.get(name)).toBeUndefined();
    },
  );

  it.each([["get_weather"], ["notes.read-v2"], ["A9"], ["a".repeat(128)]])("accepts %j", (name) => {
    expect(() => mcp.tool(name, {}, () => "x")).not.toThrow();
  });
});
