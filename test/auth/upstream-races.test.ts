/**
 * Two races of UpstreamTokens, on the real memory Store: a refresh that outlives its lock must
 * not release the lock another instance took since, and dropping refused tokens must not
 * remove the tokens a new sign-in stored in between. The provider is the test's own
 * UpstreamTokenSource; time is the injected clock.
 */
import { describe, expect, it } from "vitest";
import { UpstreamRefusedError, type UpstreamTokenSource } from "../../src/auth/index.ts";
import { UpstreamTokens } from "../../src/auth/upstream-tokens.ts";
import { AuthorizationRequired } from "../../src/mcp/reauthorize.ts";
import { memoryStore, type Store } from "../../src/storage/index.ts";
import { Sealer } from "../../src/util/sealer.ts";
import { manualClock } from "../helpers/clock.ts";
import { capturingLogger } from "../helpers/log.ts";

const SECRET = "a-secret-that-is-at-least-32-characters-long";

function upstream(
  store: Store,
  clock: ReturnType<typeof manualClock>,
  source: UpstreamTokenSource,
) {
  const sealer = Promise.resolve(new Sealer(SECRET, "portcullis upstream tokens"));
  return new UpstreamTokens({
    store,
    sealer: () => sealer,
    source,
    clock: clock.now,
    logger: capturingLogger(),
    revokeGrant: async () => {},
  });
}

const expired = { access_token: "old", refresh_token: "r1", expires_in: 60, token_type: "bearer" };

describe("UpstreamTokens races", () => {
  it("a refresh that outlived its lock leaves the next holder's lock alone", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock: clock.now });
    const tokens = upstream(store, clock, {
      refreshSkewSeconds: 0,
      refresh: async () => {
        // The provider took longer than the lock's TTL; another instance took the lock since.
        clock.advance(31_000);
        expect(await store.add("upstream-lock:alice", "another instance", { ttlMs: 30_000 })).toBe(
          true,
        );
        return { access_token: "new", expires_in: 3600, token_type: "bearer" };
      },
    });
    await tokens.keep("alice", expired);
    clock.advance(61_000);
    expect(await tokens.token("alice", undefined)).toBe("new");
    expect(await store.get("upstream-lock:alice")).toBe("another instance");
  });

  it("the lock is released when the refresh ends in time", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock: clock.now });
    const tokens = upstream(store, clock, {
      refreshSkewSeconds: 0,
      refresh: async () => ({ access_token: "new", expires_in: 3600, token_type: "bearer" }),
    });
    await tokens.keep("alice", expired);
    clock.advance(61_000);
    expect(await tokens.token("alice", undefined)).toBe("new");
    expect(await store.get("upstream-lock:alice")).toBeUndefined();
  });

  it("dropping refused tokens keeps those a new sign-in stored meanwhile", async () => {
    const clock = manualClock();
    const inner = memoryStore({ clock: clock.now });
    let signInBetween: (() => Promise<void>) | undefined;
    // The real Store, where a new sign-in lands in the middle of dropping the tokens: right
    // after a read of them (the window a get-then-delete loses it in), or right before a
    // compare-and-set of them.
    const store: Store = Object.create(inner) as Store;
    Object.assign(store, {
      get: async <T>(key: string) => {
        const value = await inner.get<T>(key);
        const hook = signInBetween;
        if (hook && key === "upstream:alice") {
          signInBetween = undefined;
          await hook();
        }
        return value;
      },
      set: inner.set.bind(inner),
      add: inner.add.bind(inner),
      delete: inner.delete.bind(inner),
      take: inner.take.bind(inner),
      compareAndSet: async (...args: Parameters<Store["compareAndSet"]>) => {
        const hook = signInBetween;
        if (hook && args[0] === "upstream:alice") {
          signInBetween = undefined;
          await hook();
        }
        return inner.compareAndSet(...args);
      },
      increment: inner.increment.bind(inner),
    });
    const tokens = upstream(store, clock, {
      refreshSkewSeconds: 0,
      refresh: async () => {
        // The provider refuses; by the time the tokens are dropped, the user signed in again.
        signInBetween = () =>
          tokens.keep("alice", { access_token: "fresh", expires_in: 3600, token_type: "bearer" });
        throw new UpstreamRefusedError("invalid_grant");
      },
    });
    await tokens.keep("alice", expired);
    clock.advance(61_000);
    await expect(tokens.token("alice", undefined)).rejects.toBeInstanceOf(AuthorizationRequired);
    signInBetween = undefined;
    expect(await tokens.has("alice")).toBe(true);
    expect(await tokens.token("alice", undefined)).toBe("fresh");
  });

  it("dropped tokens read as none", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock: clock.now });
    const tokens = upstream(store, clock, {
      refreshSkewSeconds: 0,
      refresh: async () => {
        throw new UpstreamRefusedError("invalid_grant");
      },
    });
    await tokens.keep("alice", expired);
    clock.advance(61_000);
    await expect(tokens.token("alice", undefined)).rejects.toBeInstanceOf(AuthorizationRequired);
    expect(await tokens.has("alice")).toBe(false);
    await expect(tokens.token("alice", undefined)).rejects.toThrow(/no upstream tokens/);
  });
});
