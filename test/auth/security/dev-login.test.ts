/**
 * devLogin() lets anyone sign in as anyone, so it runs only where the server serves this
 * machine alone (issue 3, issue 10 point 6). That is decided by what the server is really
 * bound to and by the configured issuer, never by a request header: not by Host, not by
 * X-Forwarded-Host. Refused, every authorization server endpoint answers a server_error and
 * issues, stores and sets nothing.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { createDemoServer } from "../../../examples/demo/server.ts";
import {
  type AuthorizationServerOptions,
  authorizationServer,
  devLogin,
} from "../../../src/auth/index.ts";
import { mcpApp } from "../../../src/index.ts";
import { type RunningServer, type ServeOptions, serve } from "../../../src/node/index.ts";
import { memoryStore } from "../../../src/storage/index.ts";
import { capturingLogger } from "../../helpers/log.ts";
import { KEYS, pkce, REDIRECT_URI, type RecordingStore, recordingStore } from "./support.ts";

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

  it("refuses to start behind a trusted proxy (trustProxy), whatever the issuer, unless forced", () => {
    for (const issuer of [undefined, "http://localhost:3000"]) {
      const options = { store: memoryStore(), trustProxy: true, ...(issuer ? { issuer } : {}) };
      expect(() => authorizationServer({ ...options, login: devLogin() })).toThrow(
        /devLogin\(\) refuses to run on a server reachable beyond this machine/,
      );
      expect(() =>
        authorizationServer({ ...options, login: devLogin({ force: true }) }),
      ).not.toThrow();
    }
  });
});

// --- Served for real: the demo behind a fresh authorization server with dev login.

const running: RunningServer[] = [];
const rawServers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
  await Promise.all(
    rawServers.splice(0).map((server) => new Promise((done) => server.close(done))),
  );
});

function demoApp(options: Partial<AuthorizationServerOptions> = {}): {
  app: Hono;
  store: RecordingStore;
} {
  const store = recordingStore();
  const as = authorizationServer({ store, login: devLogin(), ...options });
  return { app: mcpApp(createDemoServer(), { path: "/mcp", auth: as }), store };
}

/** Serves with serve(); requests go to 127.0.0.1 on its port whatever it is bound to. */
async function served(
  options: ServeOptions,
  asOptions: Partial<AuthorizationServerOptions> = {},
): Promise<{ base: string; port: number; store: RecordingStore }> {
  const { app, store } = demoApp(asOptions);
  const server = await serve(app, { port: 0, ...options });
  running.push(server);
  return { base: `http://127.0.0.1:${server.port}`, port: server.port, store };
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with headers fetch will not send as given (Host). */
function raw(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method ?? "GET", headers: init.headers ?? {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

async function authorizeQuery(clientId = "any-client"): Promise<string> {
  return new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: (await pkce()).challenge,
    code_challenge_method: "S256",
    state: "xyz",
  }).toString();
}

/** Every step an attacker needs: the login page, the login form, registration. */
async function expectAllRefused(
  base: string,
  store: RecordingStore,
  headers: Record<string, string>,
): Promise<void> {
  const form = { "content-type": "application/x-www-form-urlencoded", ...headers };
  const attempts = [
    await raw(`${base}/authorize?${await authorizeQuery()}`, { headers }),
    await raw(`${base}/login/dev`, {
      method: "POST",
      headers: form,
      body: "request_id=x&csrf=y&username=admin",
    }),
    await raw(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }),
    }),
  ];
  for (const response of attempts) {
    expect(response.status, response.body).toBe(500);
    const body = JSON.parse(response.body);
    expect(body).toEqual({
      error: "server_error",
      error_description: `The server could not complete the request (error id ${body.error_id})`,
      error_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(response.body).not.toContain("username");
    expect(response.headers["set-cookie"]).toBeUndefined();
    expect(response.headers.location).toBeUndefined();
  }
  for (const prefix of [KEYS.client, KEYS.pending, KEYS.code, KEYS.refresh, KEYS.consent]) {
    expect(store.written(prefix), prefix).toBe(0);
  }
}

async function expectLoginPage(response: RawResponse): Promise<void> {
  expect(response.status, response.body).toBe(200);
  expect(response.body).toContain('name="username"');
}

/** A public client registered on a working server, for the positive controls. */
async function registered(base: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await raw(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }),
  });
  expect(response.status, response.body).toBe(201);
  return (JSON.parse(response.body) as { client_id: string }).client_id;
}

describe("devLogin follows the bind address, not the Host header", () => {
  it("runs on a loopback bind, whatever loopback name the Host says", async () => {
    const { base, port } = await served({ hostname: "127.0.0.1" });
    const clientId = await registered(base);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      await expectLoginPage(
        await raw(`${base}/authorize?${await authorizeQuery(clientId)}`, { headers: { host } }),
      );
    }
  });

  it("refuses a 0.0.0.0 bind even when the Host says localhost: nothing issued", async () => {
    // Bound to every interface for this test only; it answers nothing but refusals. The
    // Host check passes ("localhost", any port, is allowed): the refusal is devLogin's.
    const { base, port, store } = await served({
      hostname: "0.0.0.0",
      allowedHosts: ["localhost"],
    });
    await expectAllRefused(base, store, { host: `localhost:${port}` });
  });

  it("refuses a 0.0.0.0 bind with a configured loopback issuer", async () => {
    const { base, store } = await served(
      { hostname: "0.0.0.0", allowedHosts: ["localhost"] },
      { issuer: "http://localhost:3000" },
    );
    await expectAllRefused(base, store, { host: "localhost" });
  });
});

describe("devLogin behind a proxy", () => {
  it("refuses when serve() trusts a proxy that forwards X-Forwarded-Host: localhost", async () => {
    const { base, port, store } = await served({ hostname: "127.0.0.1", trustProxy: true });
    await expectAllRefused(base, store, {
      host: `127.0.0.1:${port}`,
      "x-forwarded-host": "localhost",
      "x-forwarded-proto": "http",
    });
    // The same with no forwarded header at all: a trusted proxy means the network reaches us.
    await expectAllRefused(base, store, { host: `127.0.0.1:${port}` });
  });

  it("ignores X-Forwarded-Host when no proxy is trusted: it neither helps nor hurts", async () => {
    const { base } = await served({ hostname: "127.0.0.1" });
    const headers = { "x-forwarded-host": "mcp.example.com", "x-forwarded-proto": "https" };
    const clientId = await registered(base, headers);
    const page = await raw(`${base}/authorize?${await authorizeQuery(clientId)}`, { headers });
    await expectLoginPage(page);
  });
});

describe("devLogin where the runtime does not say where it listens (Workers, Bun, Deno)", () => {
  // These runtimes call app.fetch(request) with no connection details, as here.
  const call = (app: Hono, url: string, init?: RequestInit) => app.fetch(new Request(url, init));

  it("refuses without a configured issuer, whatever the request's Host: nothing issued", async () => {
    const logger = capturingLogger();
    const { app, store } = demoApp({ logger });
    for (const origin of ["http://localhost:3000", "http://127.0.0.1:8787"]) {
      const page = await call(app, `${origin}/authorize?${await authorizeQuery()}`);
      expect(page.status).toBe(500);
      expect(await page.json()).toMatchObject({ error: "server_error" });
      expect(page.headers.getSetCookie()).toEqual([]);
      const login = await call(app, `${origin}/login/dev`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "request_id=x&csrf=y&username=admin",
      });
      expect(login.status).toBe(500);
      expect(login.headers.getSetCookie()).toEqual([]);
      await login.text();
    }
    expect(store.written(KEYS.pending)).toBe(0);
    expect(store.written(KEYS.code)).toBe(0);
    // The client sees a bare server_error; the operator's log says why, once, without a stack.
    const refusals = logger.lines.filter((line) => line.message.includes("refuses to run here"));
    expect(refusals).toEqual([
      {
        level: "error",
        message: 'login provider "dev" refuses to run here',
        fields: { reason: expect.stringContaining("configured loopback issuer") },
      },
    ]);
    // Each 500 is still logged under the id its reply carries.
    expect(logger.at("error").filter((line) => line.message === "server error")).toHaveLength(4);
  });

  it("runs with a configured loopback issuer", async () => {
    const { app } = demoApp({ issuer: "http://localhost:8787" });
    const registration = await call(app, "http://localhost:8787/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }),
    });
    expect(registration.status).toBe(201);
    const { client_id: clientId } = (await registration.json()) as { client_id: string };
    const page = await call(
      app,
      `http://localhost:8787/authorize?${await authorizeQuery(clientId)}`,
    );
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="username"');
  });
});

describe("devLogin on @hono/node-server without serve()", () => {
  it("runs for connections that arrive on a loopback address", async () => {
    const { app } = demoApp();
    const server = createServer(getRequestListener(app.fetch));
    rawServers.push(server);
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clientId = await registered(base);
    await expectLoginPage(await raw(`${base}/authorize?${await authorizeQuery(clientId)}`));
  });
});
