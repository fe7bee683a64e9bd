/**
 * devLogin() lets anyone sign in as anyone, so it refuses to run on an issuer that is not on
 * loopback (issue 3), unless forced, whether the issuer is configured or follows requests.
 */
import { describe, expect, it } from "vitest";
import { authorizationServer, devLogin } from "../../../src/auth/index.ts";
import { memoryStore } from "../../../src/storage/index.ts";
import { authorizeUrl, pkce, registerPublic, startServer } from "./support.ts";

describe("devLogin on a public issuer", () => {
  it.each([
    "https://example.com",
    "http://mcp.example.com:8080",
    "https://localhost.example.com",
    "http://192.168.1.10:3000",
    "http://10.0.0.1",
    "http://0.0.0.0:3000",
  ])("refuses to start with issuer %s", (issuer) => {
    expect(() => authorizationServer({ store: memoryStore(), login: devLogin(), issuer })).toThrow(
      /devLogin/,
    );
  });

  it("starts on a public issuer only when forced", () => {
    expect(() =>
      authorizationServer({
        store: memoryStore(),
        login: devLogin({ force: true }),
        issuer: "https://example.com",
      }),
    ).not.toThrow();
  });

  it.each(["http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]:3000"])(
    "starts on loopback issuer %s",
    (issuer) => {
      expect(() =>
        authorizationServer({ store: memoryStore(), login: devLogin(), issuer }),
      ).not.toThrow();
    },
  );

  it("refuses requests whose issuer, from a trusted proxy, is public", async () => {
    const server = await startServer({ trustProxy: true });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const url = authorizeUrl(server, { clientId, challenge });

    const local = await fetch(url);
    expect(await local.text()).toContain('name="username"');

    const proxied = await fetch(url, {
      headers: { "x-forwarded-host": "mcp.example.com", "x-forwarded-proto": "https" },
      redirect: "manual",
    });
    const text = await proxied.text();
    expect(proxied.status).toBe(500);
    expect(JSON.parse(text)).toMatchObject({ error: "server_error" });
    expect(text).not.toContain("username");
    expect(proxied.headers.getSetCookie()).toEqual([]);
  });
});
