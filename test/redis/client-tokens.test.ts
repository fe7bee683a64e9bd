/**
 * Client state and OAuth tokens shared through a real Redis: two agents (two authorizers in
 * this process, then two child processes) hold one stored token that needs refreshing, and
 * exactly one refresh reaches the authorization server; the other agent takes up its result.
 * Without the store's lock both would spend the refresh token. Sessions are shared too.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { afterAll, expect, it } from "vitest";
import { createDemoApp } from "../../examples/demo/server.ts";
import {
  type DiscoveryCache,
  discoveryCache,
  McpClient,
  OAuthAuthorizer,
  storeClientState,
  storeTokenStore,
  type TokenStore,
} from "../../src/client/index.ts";
import { redisStore } from "../../src/redis/index.ts";
import type { Store } from "../../src/storage/index.ts";
import { devLoginRedirect, serveOnLocalhost } from "../client/oauth/support.ts";
import { type Deferred, deferred, until } from "../helpers/async.ts";
import { manualTimers } from "../helpers/clock.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

const KEY = "client-tokens-test-key-0123456789";
const script = fileURLToPath(new URL("./token-client.ts", import.meta.url));

afterAll(async () => {
  await closeClients();
});

/** The demo behind a wrapper that counts refresh grants and can hold them at the door. */
async function demo() {
  const refreshes: string[] = [];
  let gate: Deferred<void> | undefined;
  const app = new Hono();
  app.use("/token", async (c, next) => {
    const form = new URLSearchParams(await c.req.raw.clone().text());
    if (form.get("grant_type") === "refresh_token") {
      refreshes.push(form.get("refresh_token") ?? "");
      if (gate) await gate.promise;
    }
    await next();
  });
  app.route("/", createDemoApp());
  const base = await serveOnLocalhost(app);
  return {
    base,
    url: `${base}/mcp`,
    refreshes,
    hold: () => {
      gate = deferred<void>();
    },
    release: () => {
      gate?.resolve();
      gate = undefined;
    },
  };
}

/** Signs alice in once; the stored access token is then made due for refresh. */
async function signedIn(
  server: Awaited<ReturnType<typeof demo>>,
  tokens: TokenStore,
  discovery: DiscoveryCache,
) {
  const { redirect } = devLoginRedirect(server.base);
  const first = new McpClient({ name: "first", version: "1.0.0" });
  await first.connect(server.url, {
    authorizer: new OAuthAuthorizer({ redirect, tokens, discovery }),
  });
  await first.callTool("add_note", { text: "shared" });
  await first.close();
  const record = (await tokens.get(server.base))!;
  const stored = record.tokens![server.url]!;
  // Within the refresh margin (60 s): the next request refreshes first.
  record.tokens![server.url] = { ...stored, expiresAt: Math.floor(Date.now() / 1000) + 5 };
  await tokens.set(server.base, record);
  return stored;
}

describeRedis("storeTokenStore and storeClientState on Redis", (url) => {
  const storeOf = (prefix: string): Store => redisStore({ client: client(url), prefix });

  it("two agents, one refresh: the second waits for the lock and takes up the new token", async () => {
    const server = await demo();
    const prefix = uniquePrefix("client-tokens");
    const timers = manualTimers();
    // Each agent with its own Redis connection, as separate processes would have.
    const agent = () => {
      const store = storeOf(prefix);
      const tokens = storeTokenStore(store, { key: KEY, timers });
      return { tokens, discovery: discoveryCache({ store }) };
    };
    const one = agent();
    const old = await signedIn(server, one.tokens, one.discovery);
    const two = agent();
    const clients = [one, two].map(({ tokens, discovery }) => {
      const made = new McpClient({ name: "agent", version: "1.0.0" });
      return { made, authorizer: new OAuthAuthorizer({ tokens, discovery }) };
    });
    server.hold();
    const first = clients[0]!.made.connect(server.url, { authorizer: clients[0]!.authorizer });
    await until(() => server.refreshes.length === 1);
    const second = clients[1]!.made.connect(server.url, { authorizer: clients[1]!.authorizer });
    // The second agent found the lock taken and waits to look again.
    await timers.sleeping();
    server.release();
    await first;
    timers.fire();
    await second;
    expect(server.refreshes).toEqual([old.refreshToken]);
    const results = await Promise.all(clients.map(({ made }) => made.callTool("list_notes", {})));
    for (const result of results)
      expect(result.content).toEqual([{ type: "text", text: "1: shared" }]);
    const fresh = (await one.tokens.get(server.base))!.tokens![server.url]!;
    expect(fresh.accessToken).not.toBe(old.accessToken);
    await Promise.all(clients.map(({ made }) => made.close()));
  });

  it("without the lock, both agents spend the refresh token", async () => {
    const server = await demo();
    const prefix = uniquePrefix("client-tokens-nolock");
    const agent = (): { tokens: TokenStore; discovery: DiscoveryCache } => {
      const store = storeOf(prefix);
      const { get, set } = storeTokenStore(store, { key: KEY });
      return { tokens: { get, set }, discovery: discoveryCache({ store }) };
    };
    const one = agent();
    const old = await signedIn(server, one.tokens, one.discovery);
    const two = agent();
    server.hold();
    const connects = [one, two].map(({ tokens, discovery }) =>
      new McpClient({ name: "agent", version: "1.0.0" })
        .connect(server.url, { authorizer: new OAuthAuthorizer({ tokens, discovery }) })
        .catch((error: unknown) => error),
    );
    await until(() => server.refreshes.length === 2);
    server.release();
    await Promise.all(connects);
    expect(server.refreshes).toEqual([old.refreshToken, old.refreshToken]);
  });

  it("two agent processes share the stored token: one refresh in all", async () => {
    const server = await demo();
    const prefix = uniquePrefix("client-tokens-procs");
    const store = storeOf(prefix);
    const old = await signedIn(
      server,
      storeTokenStore(store, { key: KEY }),
      discoveryCache({ store }),
    );
    const children = Array.from({ length: 2 }, () =>
      spawn(process.execPath, ["--import", "tsx", script], {
        env: { ...process.env, REDIS_URL: url, PREFIX: prefix, KEY, MCP_URL: server.url },
        stdio: ["pipe", "pipe", "pipe", "ipc"],
      }),
    );
    const outputs = children.map((child) => {
      let out = "";
      let errors = "";
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
      });
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        errors += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      return { out: () => out, errors: () => errors, exited };
    });
    await until(() => outputs.every((output) => output.out().includes("READY")), 10_000);
    for (const child of children) child.stdin!.write("go\n");
    const codes = await Promise.all(outputs.map((output) => output.exited));
    expect(codes, outputs.map((output) => output.errors()).join("\n")).toEqual([0, 0]);
    for (const output of outputs) {
      expect(output.out()).toContain('RESULT {"content":[{"type":"text","text":"1: shared"}]}');
    }
    expect(server.refreshes).toEqual([old.refreshToken]);
  }, 60_000);

  it("a session kept in Redis is taken up by another agent, and sealed tokens are unreadable", async () => {
    const server = await demo();
    const prefix = uniquePrefix("client-state");
    const redis = client(url);
    const store = redisStore({ client: redis, prefix });
    const tokens = storeTokenStore(store, { key: KEY });
    const discovery = discoveryCache({ store });
    await signedIn(server, tokens, discovery);
    const state = storeClientState(store, "alice@notes");
    const first = new McpClient({ name: "a", version: "1.0.0", protocolVersion: "2025-11-25" });
    await first.connect(server.url, {
      state,
      authorizer: new OAuthAuthorizer({ tokens, discovery }),
    });
    const session = first.sessionId;
    expect(session).toBeDefined();
    await first.close({ terminate: false });
    const second = new McpClient({ name: "b", version: "1.0.0", protocolVersion: "2025-11-25" });
    await second.connect(server.url, {
      state: storeClientState(storeOf(prefix), "alice@notes"),
      authorizer: new OAuthAuthorizer({
        tokens: storeTokenStore(storeOf(prefix), { key: KEY }),
        discovery,
      }),
    });
    expect(second.sessionId).toBe(session);
    expect((await second.callTool("list_notes", {})).content).toEqual([
      { type: "text", text: "1: shared" },
    ]);
    await second.close();
    expect(await state.get()).toEqual({
      protocolVersion: "2025-11-25",
      origin: new URL(server.url).origin,
    });
    // Another key reads nothing; the raw Redis value holds no token.
    expect(
      await storeTokenStore(store, { key: "another-key-0123456789" }).get(server.base),
    ).toBeUndefined();
    const raw = await redis.keys(`${prefix}client-oauth:issuer:*`);
    expect(raw).toHaveLength(1);
    const value = await redis.get(raw[0]!);
    expect(value).not.toContain("accessToken");
  });
});
