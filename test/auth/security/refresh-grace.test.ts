/**
 * The refresh grace cannot be taken turn about (issue 10, point 8). Within the grace, a rotated
 * refresh token presented again gets the very successor it was rotated to (an idempotent retry
 * after a lost response) and nothing new is minted; every other pattern is reuse and revokes
 * the whole family. Time moves by an injected clock, never by sleeping.
 */
import { describe, expect, it } from "vitest";
import { memoryStore, type Store, type WriteOptions } from "../../../src/storage/index.ts";
import {
  callMcp,
  expectInvalidToken,
  expectOAuthError,
  KEYS,
  manualClock,
  mcpStatus,
  refresh,
  registerPublic,
  startServer,
  type TestServer,
  tokenFlow,
  tokensOf,
} from "./support.ts";

const GRACE = 10_000;
const SUCCESSOR = "as:rt-next:";

/** Writes other than rate-limit counters, which every request bumps. */
const changes = (server: TestServer) =>
  server.store.writes.filter((key) => !key.startsWith("as:rl:")).length;

/** Refresh tokens minted so far (each rotation writes one successor record). */
const minted = (server: TestServer) =>
  server.store.writes.filter((key) => key.startsWith(KEYS.refresh)).length;

async function grantRevoked(
  server: TestServer,
  clientId: string,
  tokens: { access_token: string; refresh_token: string }[],
): Promise<void> {
  for (const { access_token, refresh_token } of tokens) {
    const refused = await expectOAuthError(
      await refresh(server, clientId, refresh_token),
      400,
      "invalid_grant",
    );
    expect(refused.error_description).toMatch(/revoked/);
    expectInvalidToken(await callMcp(server.mcp, access_token), server);
  }
  expect(server.store.written(KEYS.revoked)).toBeGreaterThan(0);
}

describe("the refresh grace is an idempotent retry", () => {
  it("a retry of R1 within the grace returns the same R2 and mints nothing", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE }, clock: clock.now });
    const flow = await tokenFlow(server, { scope: "notes:read notes:write" });
    const r1 = flow.tokens.refresh_token;
    const lost = await tokensOf(await refresh(server, flow.clientId, r1));
    const before = minted(server);

    for (const wait of [1, 4_000, GRACE - 1 - 4_001]) {
      clock.advance(wait);
      const retried = await tokensOf(await refresh(server, flow.clientId, r1));
      expect(retried.refresh_token).toBe(lost.refresh_token);
      // An equivalent response: same grant, same scope, a working access token.
      expect(retried.scope).toBe(lost.scope);
      expect(retried.token_type).toBe("Bearer");
      expect(await mcpStatus(server, retried.access_token)).toBe(200);
    }
    expect(minted(server)).toBe(before);
    expect(server.store.written(KEYS.revoked)).toBe(0);

    // R2 still rotates normally.
    const r3 = await tokensOf(await refresh(server, flow.clientId, lost.refresh_token));
    expect(r3.refresh_token).not.toBe(lost.refresh_token);
    expect(await mcpStatus(server, r3.access_token)).toBe(200);
  });

  it("a retry may narrow the scope like any refresh, and may not widen it", async () => {
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE } });
    const flow = await tokenFlow(server, { scope: "notes:read" });
    const r1 = flow.tokens.refresh_token;
    const r2 = await tokensOf(await refresh(server, flow.clientId, r1));
    const writes = changes(server);

    await expectOAuthError(
      await refresh(server, flow.clientId, r1, { scope: "notes:read notes:write" }),
      400,
      "invalid_scope",
    );
    // Refused: nothing written, nothing revoked, and the retry still works.
    expect(changes(server)).toBe(writes);
    const retried = await tokensOf(await refresh(server, flow.clientId, r1));
    expect(retried.refresh_token).toBe(r2.refresh_token);
  });

  it("a retry from another client is refused and changes nothing", async () => {
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE } });
    const flow = await tokenFlow(server);
    const r1 = flow.tokens.refresh_token;
    const r2 = await tokensOf(await refresh(server, flow.clientId, r1));
    const intruder = await registerPublic(server.base);
    const writes = changes(server);

    const refused = await expectOAuthError(
      await refresh(server, intruder, r1),
      400,
      "invalid_grant",
    );
    expect(refused).not.toHaveProperty("refresh_token");
    expect(changes(server)).toBe(writes);
    expect((await tokensOf(await refresh(server, flow.clientId, r1))).refresh_token).toBe(
      r2.refresh_token,
    );
  });

  it("concurrent presentations of R1 yield one successor", async () => {
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE } });
    const flow = await tokenFlow(server);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => refresh(server, flow.clientId, flow.tokens.refresh_token)),
    );
    const bodies = await Promise.all(responses.map((response) => tokensOf(response)));
    const successors = new Set(bodies.map((body) => body.refresh_token));
    expect(successors.size).toBe(1);
    expect(server.store.written(KEYS.revoked)).toBe(0);
    // The one successor is live and rotates once; every loser's would-be successor is gone.
    const [r2] = successors;
    expect(await tokensOf(await refresh(server, flow.clientId, r2!))).toHaveProperty(
      "refresh_token",
    );
  });
});

describe("every other pattern revokes the family", () => {
  it("the turn-about attack: thief and client alternating on R1 ends with the family revoked", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE }, clock: clock.now });
    const flow = await tokenFlow(server);
    const stolen = flow.tokens.refresh_token;

    // The client rotates R1; a second later the thief presents the stolen R1.
    const client2 = await tokensOf(await refresh(server, flow.clientId, stolen));
    clock.advance(1_000);
    const thief2 = await tokensOf(await refresh(server, flow.clientId, stolen));
    // No R2': the thief's "rotation" is the client's own R2, and nothing new was minted.
    expect(thief2.refresh_token).toBe(client2.refresh_token);

    // The client moves on (R2 → R3); the thief's next turn on R1 is reuse.
    clock.advance(1_000);
    const client3 = await tokensOf(await refresh(server, flow.clientId, client2.refresh_token));
    const mintedBefore = minted(server);
    clock.advance(1_000);
    const reuse = await expectOAuthError(
      await refresh(server, flow.clientId, stolen),
      400,
      "invalid_grant",
    );
    expect(reuse.error_description).toMatch(/revoked/);
    expect(minted(server)).toBe(mintedBefore);
    await grantRevoked(server, flow.clientId, [client3, thief2, client2]);
  });

  it("the thief going first: the client's later R1 is reuse", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE }, clock: clock.now });
    const flow = await tokenFlow(server);
    const r1 = flow.tokens.refresh_token;
    const thief2 = await tokensOf(await refresh(server, flow.clientId, r1));
    const thief3 = await tokensOf(await refresh(server, flow.clientId, thief2.refresh_token));
    clock.advance(500);
    await expectOAuthError(await refresh(server, flow.clientId, r1), 400, "invalid_grant");
    await grantRevoked(server, flow.clientId, [thief3]);
  });

  it("R1 after the grace is reuse, even though R2 was never used", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE }, clock: clock.now });
    const flow = await tokenFlow(server);
    const r2 = await tokensOf(await refresh(server, flow.clientId, flow.tokens.refresh_token));
    clock.advance(GRACE + 1);
    const mintedBefore = minted(server);
    await expectOAuthError(
      await refresh(server, flow.clientId, flow.tokens.refresh_token),
      400,
      "invalid_grant",
    );
    expect(minted(server)).toBe(mintedBefore);
    await grantRevoked(server, flow.clientId, [r2]);
  });

  it("R2 presented again within its own grace, after R3 was used, is reuse", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { refreshGraceMs: GRACE }, clock: clock.now });
    const flow = await tokenFlow(server);
    const r2 = await tokensOf(await refresh(server, flow.clientId, flow.tokens.refresh_token));
    const r3 = await tokensOf(await refresh(server, flow.clientId, r2.refresh_token));
    const r4 = await tokensOf(await refresh(server, flow.clientId, r3.refresh_token));
    clock.advance(100);
    await expectOAuthError(
      await refresh(server, flow.clientId, r2.refresh_token),
      400,
      "invalid_grant",
    );
    await grantRevoked(server, flow.clientId, [r4]);
  });

  it("with no grace, any second presentation is reuse", async () => {
    const server = await startServer({ lifetimes: { refreshGraceMs: 0 } });
    const flow = await tokenFlow(server);
    const r2 = await tokensOf(await refresh(server, flow.clientId, flow.tokens.refresh_token));
    await expectOAuthError(
      await refresh(server, flow.clientId, flow.tokens.refresh_token),
      400,
      "invalid_grant",
    );
    await grantRevoked(server, flow.clientId, [r2]);
    expect(server.store.written(SUCCESSOR)).toBe(0);
  });
});

describe("successors at rest", () => {
  /** The memory store, with the options of every write kept by key. */
  function optionsRecorder(): { store: Store; writes: Map<string, unknown[]> } {
    const inner = memoryStore();
    const writes = new Map<string, unknown[]>();
    const note = (key: string, value: unknown, options?: WriteOptions) =>
      writes.set(key, [value, options?.ttlMs]);
    return {
      writes,
      store: {
        ...inner,
        async set(key, value, options) {
          note(key, value, options);
          await inner.set(key, value, options);
        },
        async compareAndSet(key, expected, next, options) {
          const swapped = await inner.compareAndSet(key, expected, next, options);
          if (swapped) note(key, next, options);
          return swapped;
        },
      },
    };
  }

  it("are sealed, kept for the grace only, and removed once used; used records expire", async () => {
    const recorder = optionsRecorder();
    const server = await startServer({
      store: recorder.store,
      lifetimes: { refreshGraceMs: GRACE, refreshToken: 3_600 },
    });
    const flow = await tokenFlow(server);
    const r2 = await tokensOf(await refresh(server, flow.clientId, flow.tokens.refresh_token));
    const successors = [...recorder.writes].filter(([key]) => key.startsWith(SUCCESSOR));
    expect(successors).toHaveLength(1);
    const [key, [sealed, ttl]] = successors[0]!;
    expect(ttl).toBe(GRACE);
    expect(typeof sealed).toBe("string");
    expect(sealed as string).not.toContain(r2.refresh_token);
    expect(await recorder.store.get(key)).toBe(sealed);
    // No stored value anywhere holds a refresh token in the clear.
    for (const [, [value]] of recorder.writes) {
      expect(JSON.stringify(value)).not.toContain(r2.refresh_token);
      expect(JSON.stringify(value)).not.toContain(flow.tokens.refresh_token);
    }
    // The used record keeps a lifetime (it used to be kept forever).
    const used = [...recorder.writes].find(
      ([, [value]]) => (value as { usedAt?: number }).usedAt !== undefined,
    );
    expect(used?.[1][1]).toBe(3_600_000);

    await tokensOf(await refresh(server, flow.clientId, r2.refresh_token));
    expect(await recorder.store.get(key)).toBeUndefined();
  });
});
