/**
 * The fast protected path (issue 11): a verified access token is kept until it expires, and
 * whether its grant was revoked comes from each instance's view, not a Store read per call.
 * Revocation still ends a token at once on the instance that revoked it, on another instance
 * sharing the Bus as soon as the message arrives, and without a Bus once the recheck is due.
 * Two instances share one Store (and Bus) in this process, each on its own loopback port,
 * both answering as one public origin, as behind a load balancer.
 */
import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { authorizationServer, devLogin } from "../../../src/auth/index.ts";
import { McpServer, mcpApp } from "../../../src/index.ts";
import { jwksVerifier } from "../../../src/resource/index.ts";
import { memoryBus } from "../../../src/storage/bus.ts";
import { memoryStore, type Store } from "../../../src/storage/index.ts";
import { messagesOf, post } from "../../helpers/http.ts";
import {
  basic,
  codeFlow,
  expectOAuthError,
  MACHINE,
  machineClient,
  mcpStatus,
  postForm,
  redeem,
  refresh,
  startServer,
  tokenFlow,
  tokensOf,
} from "./support.ts";

const PUBLIC_HOST = "127.0.0.1:9";
const PUBLIC = `http://${PUBLIC_HOST}`;
const SECRET = "revocation-view-test-secret-0123456789abcdef";

const closers: (() => void)[] = [];
afterAll(() => {
  for (const close of closers.splice(0)) close();
});

/** Serves `fetch` on a free loopback port, as PUBLIC_HOST (the Host header is rewritten). */
async function serveAsPublic(fetch: (request: Request) => Response | Promise<Response>) {
  const listener = getRequestListener(fetch);
  const server = createServer((request, response) => {
    request.headers.host = PUBLIC_HOST;
    void listener(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

/** A Store that counts reads of revocation records: the round trips the view saves. */
function countingStore(): Store & { revocationReads: number } {
  const inner = memoryStore();
  const store = {
    revocationReads: 0,
    get: <T>(key: string) => {
      if (key.startsWith("as:revoked:")) store.revocationReads++;
      return inner.get<T>(key);
    },
    set: inner.set.bind(inner),
    add: inner.add.bind(inner),
    delete: inner.delete.bind(inner),
    take: inner.take.bind(inner),
    compareAndSet: inner.compareAndSet.bind(inner),
    increment: inner.increment.bind(inner),
    addMember: inner.addMember.bind(inner),
    removeMember: inner.removeMember.bind(inner),
    members: inner.members.bind(inner),
  };
  return store as Store & { revocationReads: number };
}

interface Instance {
  url: string;
  /** Moves this instance's clock ahead. */
  advance(ms: number): void;
}

async function startInstance(
  store: Store,
  options: { bus?: ReturnType<typeof memoryBus>; recheckSeconds?: number } = {},
): Promise<Instance> {
  let offset = 0;
  const mcp = new McpServer({ name: "fast", version: "1.0.0" });
  mcp.tool("whoami", { userRequired: false }, (_args, ctx) => {
    const auth = ctx.auth!;
    return JSON.stringify({
      client: auth.clientId,
      frozen: Object.isFrozen(auth) && Object.isFrozen(auth.scopes),
    });
  });
  mcp.tool("escalate", { userRequired: false, input: z.object({}) }, (_args, ctx) => {
    // A handler that tries to widen its own caller for later requests.
    (ctx.auth!.scopes as string[]).push("admin");
    return "widened";
  });
  const as = authorizationServer({
    store,
    login: devLogin(),
    issuer: PUBLIC,
    secret: SECRET,
    clients: [machineClient({ scope: "notes:read" })],
    clock: () => Date.now() + offset,
    ...(options.bus ? { bus: options.bus } : {}),
    ...(options.recheckSeconds !== undefined
      ? { revocationRecheckSeconds: options.recheckSeconds }
      : {}),
  });
  const app = mcpApp(mcp, { path: "/mcp", auth: as, jsonResponse: true });
  return { url: await serveAsPublic(app.fetch), advance: (ms) => (offset += ms) };
}

async function machineToken(instance: Instance): Promise<string> {
  const response = await postForm(
    `${instance.url}/token`,
    { grant_type: "client_credentials", resource: `${PUBLIC}/mcp` },
    { authorization: basic(MACHINE.clientId, MACHINE.secret) },
  );
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

function revoke(instance: Instance, token: string): Promise<Response> {
  return postForm(
    `${instance.url}/revoke`,
    { token },
    { authorization: basic(MACHINE.clientId, MACHINE.secret) },
  );
}

/** Calls a tool with the token; the status and, when 200, the tool's text. */
async function call(instance: Instance, token: string, tool = "whoami") {
  const response = await post(
    `${instance.url}/mcp`,
    { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: {} } },
    { authorization: `Bearer ${token}`, "mcp-protocol-version": "2025-11-25" },
  );
  if (response.status !== 200) {
    await response.text();
    return { status: response.status, text: "", error: false };
  }
  const [message] = (await messagesOf(response)) as {
    result: { content: { text: string }[]; isError?: boolean };
  }[];
  return {
    status: 200,
    text: message!.result.content[0]!.text,
    error: message!.result.isError === true,
  };
}

describe("the verified-token cache and the revocation view", () => {
  it("checks a grant's revocation without a Store read on every call", async () => {
    const store = countingStore();
    const one = await startInstance(store);
    const token = await machineToken(one);
    for (let i = 0; i < 20; i++) expect((await call(one, token)).status).toBe(200);
    // One read when the grant was first seen; the view answers the rest.
    expect(store.revocationReads).toBeLessThanOrEqual(1);
  });

  it("refuses a cached token at once when its grant is revoked on the same instance", async () => {
    const one = await startInstance(memoryStore());
    const token = await machineToken(one);
    expect((await call(one, token)).status).toBe(200);
    expect((await call(one, token)).status).toBe(200);
    expect((await revoke(one, token)).status).toBe(200);
    expect((await call(one, token)).status).toBe(401);
  });

  it("refuses a cached token at once when reuse of its refresh token revokes the grant", async () => {
    const server = await startServer({ lifetimes: { refreshGraceMs: 0 } });
    const flow = await tokenFlow(server);
    expect(await mcpStatus(server, flow.tokens.access_token)).toBe(200);
    const rotated = await tokensOf(await refresh(server, flow.clientId, flow.tokens.refresh_token));
    expect(await mcpStatus(server, rotated.access_token)).toBe(200);
    await expectOAuthError(
      await refresh(server, flow.clientId, flow.tokens.refresh_token),
      400,
      "invalid_grant",
    );
    expect(await mcpStatus(server, flow.tokens.access_token)).toBe(401);
    expect(await mcpStatus(server, rotated.access_token)).toBe(401);
  });

  it("refuses a cached token at once when its code is replayed (RFC 9700 §4.5)", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    const tokens = await tokensOf(await redeem(server, flow));
    expect(await mcpStatus(server, tokens.access_token)).toBe(200);
    await expectOAuthError(await redeem(server, flow), 400, "invalid_grant");
    expect(await mcpStatus(server, tokens.access_token)).toBe(401);
  });

  it("refuses a cached token once it expires", async () => {
    const one = await startInstance(memoryStore());
    const token = await machineToken(one);
    expect((await call(one, token)).status).toBe(200);
    one.advance(3_600_000 + 1_000);
    expect((await call(one, token)).status).toBe(401);
  });

  it("hands every request a frozen caller, so no handler can widen it for the next", async () => {
    const one = await startInstance(memoryStore());
    const token = await machineToken(one);
    expect(JSON.parse((await call(one, token)).text)).toEqual({
      client: MACHINE.clientId,
      frozen: true,
    });
    const escalated = await call(one, token, "escalate");
    expect(escalated.status).toBe(200);
    expect(escalated.error).toBe(true);
  });

  it("refuses a token on another instance as soon as the Bus brings the revocation", async () => {
    const store = countingStore();
    const bus = memoryBus();
    const one = await startInstance(store, { bus });
    const two = await startInstance(store, { bus });
    const token = await machineToken(one);
    expect((await call(two, token)).status).toBe(200);
    expect((await call(two, token)).status).toBe(200);
    expect((await revoke(one, token)).status).toBe(200);
    const reads = store.revocationReads;
    // The message was delivered before the revocation was answered: no Store read on two.
    expect((await call(two, token)).status).toBe(401);
    expect(store.revocationReads).toBe(reads);
  });

  it("without a Bus, refuses it on another instance once that instance's recheck is due", async () => {
    const store = memoryStore();
    const one = await startInstance(store, { recheckSeconds: 30 });
    const two = await startInstance(store, { recheckSeconds: 30 });
    const token = await machineToken(one);
    expect((await call(two, token)).status).toBe(200);
    expect((await revoke(one, token)).status).toBe(200);
    expect((await call(one, token)).status).toBe(401);
    two.advance(30_000);
    expect((await call(two, token)).status).toBe(401);
  });

  it("refuses invalid cache and recheck options at construction", () => {
    const base = { store: memoryStore(), login: devLogin() };
    expect(() => authorizationServer({ ...base, tokenCacheSize: -1 })).toThrow(TypeError);
    expect(() => authorizationServer({ ...base, tokenCacheSize: 1.5 })).toThrow(TypeError);
    expect(() => authorizationServer({ ...base, revocationRecheckSeconds: -1 })).toThrow(TypeError);
    expect(() => jwksVerifier({ issuer: "https://issuer.example", cacheSize: -1 })).toThrow(
      TypeError,
    );
  });
});
