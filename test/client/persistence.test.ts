/** storeTokenStore and storeClientState over memoryStore: the contract, the lock, the options. */
import { describe, expect, it } from "vitest";
import { storeClientState, storeTokenStore } from "../../src/client/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { deferred } from "../helpers/async.ts";
import { manualClock, manualTimers } from "../helpers/clock.ts";

const record = { tokens: { "https://r.example/mcp": { accessToken: "a", tokenType: "Bearer" } } };

describe("storeTokenStore", () => {
  it("keeps records by issuer, as copies, sealed with the key", async () => {
    const store = memoryStore();
    const tokens = storeTokenStore(store, { key: "0123456789abcdef-key" });
    await tokens.set("https://as.example", record);
    const got = await tokens.get("https://as.example");
    expect(got).toEqual(record);
    expect(await tokens.get("https://other.example")).toBeUndefined();
    expect(
      await storeTokenStore(store, { key: "another-0123456789" }).get("https://as.example"),
    ).toBeUndefined();
    expect(await storeTokenStore(store).get("https://as.example")).toBeUndefined();
    await tokens.set("https://as.example", undefined);
    expect(await tokens.get("https://as.example")).toBeUndefined();
  });

  it("runs one lock holder at a time, and gives up after lockWaitMs", async () => {
    const timers = manualTimers();
    const tokens = storeTokenStore(memoryStore(), { timers, pollMs: 50, lockWaitMs: 100 });
    const inside = deferred();
    const order: string[] = [];
    const first = tokens.lock!("refresh x", async () => {
      order.push("first in");
      await inside.promise;
      order.push("first out");
    });
    const second = tokens.lock!("refresh x", async () => {
      order.push("second in");
    });
    // Another name is not held up.
    await tokens.lock!("refresh y", async () => order.push("other"));
    await timers.sleeping();
    expect(order).toEqual(["first in", "other"]);
    inside.resolve();
    await first;
    timers.fire();
    await second;
    expect(order).toEqual(["first in", "other", "first out", "second in"]);

    const held = deferred();
    const holding = tokens.lock!("refresh z", () => held.promise);
    const waiting = tokens.lock!("refresh z", async () => "never");
    for (let i = 0; i < 2; i++) {
      await timers.sleeping();
      timers.fire();
    }
    await expect(waiting).rejects.toMatchObject({ code: "ERR_LOCK_TIMEOUT" });
    held.resolve();
    await holding;
  });

  it("a holder past its TTL does not release the lock another has taken since", async () => {
    const clock = manualClock();
    const timers = manualTimers();
    const tokens = storeTokenStore(memoryStore({ clock: clock.now }), {
      timers,
      pollMs: 50,
      lockTtlMs: 1_000,
    });
    const slow = deferred();
    const first = tokens.lock!("refresh x", () => slow.promise);
    const secondIn = deferred();
    const secondDone = deferred();
    const second = tokens.lock!("refresh x", async () => {
      secondIn.resolve();
      await secondDone.promise;
    });
    await timers.sleeping();
    // The first holder hangs past the TTL: the lock lapses and the second takes it.
    clock.advance(1_001);
    timers.fire();
    await secondIn.promise;
    slow.resolve();
    await first;
    // The first holder's release left the second's lock alone: a third must wait.
    let thirdIn = false;
    const third = tokens.lock!("refresh x", async () => {
      thirdIn = true;
    });
    await timers.sleeping();
    expect(thirdIn).toBe(false);
    secondDone.resolve();
    await second;
    timers.fire();
    await third;
    expect(thirdIn).toBe(true);
  });

  it("refuses bad options", () => {
    expect(() => storeTokenStore(memoryStore(), { key: "short" })).toThrow(TypeError);
    expect(() => storeTokenStore(memoryStore(), { pollMs: 0 })).toThrow(TypeError);
    expect(() => storeTokenStore(memoryStore(), { lockTtlMs: Number.NaN })).toThrow(TypeError);
  });
});

describe("storeClientState", () => {
  it("keeps one record under its key, forgets it on undefined or after its TTL", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock: clock.now });
    const state = storeClientState(store, "agent@server", { ttlMs: 60_000 });
    await state.set({ protocolVersion: "2025-11-25", sessionId: "s1" });
    expect(await storeClientState(store, "agent@server").get()).toEqual({
      protocolVersion: "2025-11-25",
      sessionId: "s1",
    });
    expect(await storeClientState(store, "someone-else").get()).toBeUndefined();
    clock.advance(60_001);
    expect(await state.get()).toBeUndefined();
    await state.set({ protocolVersion: "2025-11-25" });
    await state.set(undefined);
    expect(await state.get()).toBeUndefined();
    expect(() => storeClientState(store, "")).toThrow(TypeError);
    expect(() => storeClientState(store, "k", { ttlMs: 0 })).toThrow(TypeError);
  });
});
