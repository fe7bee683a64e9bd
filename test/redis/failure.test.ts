/**
 * Redis down or slow: the endpoints answer 503 with Retry-After (never a wrong answer, never
 * a code or token spent for nothing), and serve again once Redis is back, without a restart.
 * Redis is reached through a proxy this test can cut and stall.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { connectRedis, redisBus, redisEventStore, redisStore } from "../../src/redis/index.ts";
import { eventually } from "../helpers/async.ts";
import { initializeRequest, listen } from "../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";
import { post, SseReader, sessionHeaders, toolCall } from "../http/support.ts";
import { describeRedis, uniquePrefix } from "./support.ts";

/** A TCP proxy in front of Redis that a test can take down, bring back, or stall. */
class Cuttable {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;
  #stalled = false;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  get port(): number {
    return this.#port;
  }

  /** Listens (again, on the same port once it has one). */
  up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => socket.destroy());
      }
      client.pipe(upstream);
      upstream.pipe(client);
      if (this.#stalled) client.pause();
    });
    this.#server = server;
    return new Promise((resolve) => {
      server.listen(this.#port, "127.0.0.1", () => {
        const address = server.address();
        this.#port = typeof address === "object" && address ? address.port : 0;
        resolve();
      });
    });
  }

  /** Stops listening and drops every connection: Redis is gone. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  /** Holds every command (connections stay open): Redis is slow. */
  stall(on: boolean): void {
    this.#stalled = on;
    for (const socket of this.#sockets) {
      if (on) socket.pause();
      else socket.resume();
    }
  }
}

/** Retries a request until Redis is back (ioredis reconnects in its own time); 15 s at most. */
function recovered(attempt: () => Promise<Response>): Promise<Response> {
  return eventually(
    async () => {
      const response = await attempt();
      if (response.status === 503) await response.body?.cancel();
      return response;
    },
    (response) => response.status !== 503,
    75,
    200,
  );
}

describeRedis("Redis down or slow", (url) => {
  const target = new URL(url);
  const proxy = new Cuttable({ host: target.hostname, port: Number(target.port || 6379) });
  let base = "";
  let endpoint = "";
  const close: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    await proxy.up();
    const client = connectRedis(`redis://127.0.0.1:${proxy.port}`, { commandTimeout: 500 });
    client.on("error", () => {});
    const prefix = uniquePrefix("failure");
    const store = redisStore({ client, prefix, timeoutMs: 500 });
    const bus = redisBus({ client, prefix });
    close.push(
      () => bus.close(),
      () => client.quit(),
    );
    const mcp = new McpServer({ name: "failure", version: "1.0.0" });
    mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
    const app = mcpApp(mcp, {
      auth: authorizationServer({ store, login: devLogin(), rateLimits: false }),
      sessions: { store, bus },
      eventStore: redisEventStore({ client, prefix, timeoutMs: 500 }),
    });
    base = (await listen(app)).replace("127.0.0.1", "localhost");
    endpoint = `${base}/mcp`;
  });

  afterAll(async () => {
    proxy.stall(false);
    await Promise.all(close.map((f) => f().catch(() => undefined)));
    await proxy.down();
  });

  async function tokens(): Promise<{
    access_token: string;
    refresh_token: string;
    clientId: string;
  }> {
    const code = await authorizeWithDevLogin(base);
    const response = await fetch(`${base}/token`, redeemForm(code));
    expect(response.status).toBe(200);
    return {
      ...((await response.json()) as { access_token: string; refresh_token: string }),
      clientId: code.clientId,
    };
  }

  const redeemForm = (code: {
    clientId: string;
    code: string;
    verifier: string;
    redirectUri: string;
  }) =>
    form({
      grant_type: "authorization_code",
      code: code.code,
      code_verifier: code.verifier,
      client_id: code.clientId,
      redirect_uri: code.redirectUri,
      resource: endpoint,
    });

  async function openSession(bearer: Record<string, string>): Promise<string> {
    const response = await post(endpoint, initializeRequest(), bearer);
    expect(response.status).toBe(200);
    await response.text();
    return response.headers.get("mcp-session-id")!;
  }

  async function expect503(response: Response, body: "json-rpc" | "oauth") {
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    const json = (await response.json()) as Record<string, unknown>;
    if (body === "json-rpc") {
      expect(json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
      expect(String((json.error as { message: string }).message)).toMatch(/Service Unavailable/);
    } else {
      expect(json).toMatchObject({ error: "temporarily_unavailable" });
    }
  }

  it("answers 503 with Retry-After while Redis is down, then serves again without a restart", async () => {
    const issued = await tokens();
    const bearer = { authorization: `Bearer ${issued.access_token}` };
    const session = await openSession(bearer);
    const pending = await authorizeWithDevLogin(base);
    const call = () =>
      post(endpoint, toolCall(1, "echo", { text: "hi" }), {
        ...bearer,
        ...sessionHeaders(session),
      });

    await proxy.down();
    // What this instance holds (a verified token, the revoked-grant view, the session it
    // cached) still answers: the protected path costs no Store round trip per call.
    const local = await call();
    expect(local.status).toBe(200);
    await local.text();
    // What must reach Redis answers 503: a new session, codes and refresh tokens.
    await expect503(await post(endpoint, initializeRequest(), bearer), "json-rpc");
    await expect503(await fetch(`${base}/token`, redeemForm(pending)), "oauth");
    await expect503(
      await fetch(
        `${base}/token`,
        form({
          grant_type: "refresh_token",
          refresh_token: issued.refresh_token,
          client_id: issued.clientId,
        }),
      ),
      "oauth",
    );

    await proxy.up();
    const reply = await recovered(call);
    expect(reply.status).toBe(200);
    expect(await new SseReader(reply).message()).toMatchObject({
      id: 1,
      result: { content: [{ text: "hi" }] },
    });
    // The code tried while Redis was down was not spent: it works once, and only once.
    const redeemed = await fetch(`${base}/token`, redeemForm(pending));
    expect(redeemed.status).toBe(200);
    expect((await fetch(`${base}/token`, redeemForm(pending))).status).toBe(400);
    // And the refresh token tried meanwhile still rotates.
    const refreshed = await fetch(
      `${base}/token`,
      form({
        grant_type: "refresh_token",
        refresh_token: issued.refresh_token,
        client_id: issued.clientId,
      }),
    );
    expect(refreshed.status).toBe(200);
  });

  it("answers 503 when Redis is too slow (command timeout), then recovers", async () => {
    const issued = await tokens();
    const bearer = { authorization: `Bearer ${issued.access_token}` };
    const session = await openSession(bearer);
    proxy.stall(true);
    const started = Date.now();
    // A new session must be written to Redis: the command timeout answers it.
    await expect503(await post(endpoint, initializeRequest(), bearer), "json-rpc");
    expect(Date.now() - started).toBeLessThan(3_000);
    proxy.stall(false);
    const reply = await recovered(() =>
      post(endpoint, toolCall(2, "echo", { text: "fast" }), {
        ...bearer,
        ...sessionHeaders(session),
      }),
    );
    expect(reply.status).toBe(200);
  });
});
