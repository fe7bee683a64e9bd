import { request as httpRequest } from "node:http";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDemoApp } from "../../examples/demo/server.ts";
import { devLogin } from "../../src/auth/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { type RunningServer, type ServeOptions, serve } from "../../src/node/index.ts";
import { deferred, until } from "../helpers/async.ts";
import { MCP_HEADERS, openSession } from "../helpers/http.ts";

const started: RunningServer[] = [];

/** The shutdown deadline's timers and clock, moved by the test; sockets stay real. */
const SHUTDOWN_TIMERS: Parameters<typeof vi.useFakeTimers>[0] = {
  toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
};

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function start(app: Hono, options: ServeOptions = {}): Promise<RunningServer> {
  const server = await serve(app, { port: 0, ...options });
  started.push(server);
  return server;
}

/** A raw request with a chosen Host header, which fetch would not let us set. */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function echoApp(): Hono {
  const app = new Hono<{ Bindings: { incoming?: { socket?: { remoteAddress?: string } } } }>();
  app.all("*", async (c) =>
    c.json({
      url: c.req.url,
      body: c.req.method === "POST" ? await c.req.text() : null,
      address: c.env?.incoming?.socket?.remoteAddress ?? null,
    }),
  );
  return app as unknown as Hono;
}

describe("serve", () => {
  it("binds 127.0.0.1 by default and hands Node's bindings to the app", async () => {
    const server = await start(echoApp());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const body = (await (await fetch(`${server.url}/x`)).json()) as { address: string };
    expect(body.address).toBe("127.0.0.1");
  });

  it("refuses a Host that is not a loopback name when bound to loopback", async () => {
    const server = await start(echoApp());
    const refused = await rawGet(`${server.url}/x`, { host: "attacker.example" });
    expect(refused.status).toBe(403);
    const allowed = await rawGet(`${server.url}/x`, { host: `localhost:${server.port}` });
    expect(allowed.status).toBe(200);
  });

  it.each(["0.0.0.0", "::", "192.0.2.10"])(
    "will not bind %s, beyond loopback, without allowedHosts",
    async (hostname) => {
      await expect(serve(echoApp(), { port: 0, hostname })).rejects.toThrow(
        /beyond loopback, it needs allowedHosts/,
      );
    },
  );

  it("checks Host against allowedHosts on a non-loopback bind, loopback names included", async () => {
    // Bound to every interface for this test only; requests go to 127.0.0.1.
    const server = await start(echoApp(), {
      hostname: "0.0.0.0",
      allowedHosts: ["mcp.example.com"],
    });
    const url = `http://127.0.0.1:${server.port}/x`;
    for (const host of [
      "attacker.example",
      `localhost:${server.port}`,
      `127.0.0.1:${server.port}`,
    ]) {
      const refused = await rawGet(url, { host });
      expect(refused.status, host).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({
        error: { message: "Forbidden: Host not allowed" },
      });
    }
    expect((await rawGet(url, { host: "mcp.example.com" })).status).toBe(200);
    expect((await rawGet(url, { host: "mcp.example.com:443" })).status).toBe(200);
  });

  it('accepts any Host with allowedHosts ["*"], said on purpose', async () => {
    const server = await start(echoApp(), { hostname: "0.0.0.0", allowedHosts: ["*"] });
    const url = `http://127.0.0.1:${server.port}/x`;
    expect((await rawGet(url, { host: "anything.example" })).status).toBe(200);
  });

  it("sets timeouts that suit long-lived SSE, and lets them be changed", async () => {
    const defaults = await start(echoApp());
    const node = defaults.server as import("node:http").Server;
    expect(node.requestTimeout).toBe(0);
    expect(node.keepAliveTimeout).toBe(65_000);
    expect(node.headersTimeout).toBe(66_000);
    expect(node.headersTimeout).toBeGreaterThan(node.keepAliveTimeout);
    const custom = await start(echoApp(), {
      requestTimeoutMs: 120_000,
      headersTimeoutMs: 20_000,
      keepAliveTimeoutMs: 10_000,
    });
    const customNode = custom.server as import("node:http").Server;
    expect(customNode.requestTimeout).toBe(120_000);
    expect(customNode.headersTimeout).toBe(20_000);
    expect(customNode.keepAliveTimeout).toBe(10_000);
  });
});

describe("serve: trustProxy", () => {
  const forwarded = { "x-forwarded-proto": "https", "x-forwarded-host": "mcp.example.com" };

  it("ignores X-Forwarded-* unless told to trust the proxy", async () => {
    const server = await start(echoApp());
    const body = (await (await fetch(`${server.url}/a?b=1`, { headers: forwarded })).json()) as {
      url: string;
    };
    expect(body.url).toBe(`${server.url}/a?b=1`);
  });

  it("gives the app the URL the client used at the proxy, body intact", async () => {
    const server = await start(echoApp(), { trustProxy: true });
    const get = (await (await fetch(`${server.url}/a?b=1`, { headers: forwarded })).json()) as {
      url: string;
    };
    expect(get.url).toBe("https://mcp.example.com/a?b=1");
    const post = (await (
      await fetch(`${server.url}/p`, {
        method: "POST",
        headers: { ...forwarded, "x-forwarded-proto": "https, http" },
        body: "payload",
      })
    ).json()) as { url: string; body: string; address: string };
    expect(post).toEqual({
      url: "https://mcp.example.com/p",
      body: "payload",
      address: "127.0.0.1",
    });
  });

  it("ignores malformed forwarded values", async () => {
    const server = await start(echoApp(), { trustProxy: true });
    const body = (await (
      await fetch(`${server.url}/a`, {
        headers: { "x-forwarded-proto": "javascript", "x-forwarded-host": "evil.com/path@x" },
      })
    ).json()) as { url: string };
    expect(body.url).toBe(`${server.url}/a`);
  });

  it("publishes the public issuer and resource URLs of the built-in authorization server", async () => {
    // devLogin refuses a non-loopback issuer unless forced; this test only reads metadata.
    const server = await start(createDemoApp({ login: devLogin({ force: true }) }), {
      trustProxy: true,
    });
    const prm = (await (
      await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`, { headers: forwarded })
    ).json()) as { resource: string; authorization_servers: string[] };
    expect(prm.resource).toBe("https://mcp.example.com/mcp");
    expect(prm.authorization_servers).toEqual(["https://mcp.example.com"]);
    const metadata = (await (
      await fetch(`${server.url}/.well-known/oauth-authorization-server`, { headers: forwarded })
    ).json()) as { issuer: string; token_endpoint: string };
    expect(metadata.issuer).toBe("https://mcp.example.com");
    expect(metadata.token_endpoint).toBe("https://mcp.example.com/token");
  });
});

describe("serve: graceful shutdown", () => {
  it("stops accepting, lets in-flight requests finish, then resolves", async () => {
    const arrival = deferred();
    const release = deferred();
    const app = new Hono();
    app.get("/slow", async (c) => {
      arrival.resolve();
      await release.promise;
      return c.text("done");
    });
    const server = await serve(app, { port: 0 });
    const pending = fetch(`${server.url}/slow`);
    await arrival.promise;
    const closing = server.close();
    expect(server.close()).toBe(closing);
    let closed = false;
    void closing.then(() => (closed = true));
    // No longer accepting, but still waiting for the request in flight.
    await expect(fetch(`${server.url}/slow`)).rejects.toThrow();
    expect(closed).toBe(false);
    release.resolve();
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("done");
    await closing;
    await expect(fetch(`${server.url}/slow`)).rejects.toThrow();
  });

  it("ends open SSE streams cleanly once the others have finished", async () => {
    let cancelled = false;
    const app = new Hono();
    app.get("/events", () => {
      const encoder = new TextEncoder();
      let timer: ReturnType<typeof setInterval> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode("data: first\n\n"));
          timer = setInterval(() => controller.enqueue(encoder.encode(": ping\n\n")), 20);
        },
        cancel() {
          cancelled = true;
          clearInterval(timer);
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    });
    const server = await serve(app, { port: 0, shutdownTimeoutMs: 5_000 });
    const response = await fetch(`${server.url}/events`);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("data: first");
    // Not held for the shutdown timeout, nor any time at all: with the clock stopped, close
    // resolves because there was nothing else to wait for.
    vi.useFakeTimers(SHUTDOWN_TIMERS);
    await server.close();
    vi.useRealTimers();
    let done = false;
    while (!done) done = (await reader.read()).done;
    expect(done).toBe(true);
    await until(() => cancelled);
  });

  it("keeps SSE streams delivering while ordinary requests drain, then ends them", async () => {
    const arrival = deferred();
    const release = deferred();
    const app = new Hono();
    app.get("/slow", async (c) => {
      arrival.resolve();
      await release.promise;
      return c.text("done");
    });
    app.get("/events", () => {
      const encoder = new TextEncoder();
      let count = 0;
      let timer: ReturnType<typeof setInterval> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          timer = setInterval(() => controller.enqueue(encoder.encode(`data: ${count++}\n\n`)), 20);
        },
        cancel() {
          clearInterval(timer);
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    });
    const server = await serve(app, { port: 0 });
    const events = await fetch(`${server.url}/events`);
    const slow = fetch(`${server.url}/slow`);
    await arrival.promise;
    let slowDone = false;
    const slowResult = slow.then(async (response) => {
      slowDone = true;
      return response.text();
    });
    const closing = server.close();
    const reader = events.body!.getReader();
    let received = "";
    let eventsDuringDrain = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received += new TextDecoder().decode(value);
      if (!slowDone) eventsDuringDrain++;
      // The drain has shown that streams keep delivering: let the ordinary request finish.
      if (eventsDuringDrain === 4) release.resolve();
    }
    expect(eventsDuringDrain).toBeGreaterThan(3);
    expect(await slowResult).toBe("done");
    expect(received).toMatch(/data: \d+/);
    await closing;
  });

  it("gives up on requests that outlast the shutdown timeout", async () => {
    const arrival = deferred();
    const app = new Hono();
    app.get("/hang", () => {
      arrival.resolve();
      return new Promise<Response>(() => {});
    });
    const server = await serve(app, { port: 0, shutdownTimeoutMs: 200 });
    const pending = fetch(`${server.url}/hang`).then(
      () => "answered",
      () => "dropped",
    );
    await arrival.promise;
    vi.useFakeTimers(SHUTDOWN_TIMERS);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(150);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    vi.useRealTimers();
    await closing;
    expect(await pending).toBe("dropped");
  });

  it("ends an MCP session's GET stream", async () => {
    const mcp = new McpServer({ name: "s", version: "1.0.0" });
    const server = await serve(mcpApp(mcp, { sessions: true }), { port: 0 });
    const url = `${server.url}/mcp`;
    const session = await openSession(url);
    const stream = await fetch(url, {
      headers: {
        ...MCP_HEADERS,
        accept: "text/event-stream",
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
      },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const body = stream.text();
    await server.close();
    await expect(body).resolves.toBeTypeOf("string");
  });
});
