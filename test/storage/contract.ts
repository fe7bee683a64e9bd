import { describe, expect, it } from "vitest";
import type { Store } from "../../src/storage/index.ts";
import { eventually } from "../helpers/async.ts";
import type { ManualClock } from "../helpers/clock.ts";

export interface ContractOptions {
  /**
   * The clock the stores expire entries by, when the test holds it: TTLs are then checked to
   * the millisecond. Without one (Redis, workerd keep their own time), the contract waits
   * for the entry to go, a bounded number of looks.
   */
  clock?: ManualClock;
  /**
   * Stretches every TTL and wait by this factor, for adapters whose round trips are slow
   * enough (a Durable Object RPC that waits for its write to be durable, a remote Redis) that
   * a burst of 40 calls outlasts a 300 ms TTL. The assertions stay the same. Default 1.
   */
  timeScale?: number;
}

/**
 * The guarantees every Store adapter must give (see src/storage/store.ts). Each adapter's
 * test file calls this with a factory for a fresh, empty store.
 */
export function storeContract(
  name: string,
  makeStore: () => Store | Promise<Store>,
  options: ContractOptions = {},
): void {
  const scale = options.timeScale ?? 1;
  const ms = (value: number) => value * scale;
  /** Lets a TTL of `ttl` ms run out: moves the clock, or waits until `k` reads as absent. */
  const expire = async (store: Store, k: string, ttl: number): Promise<void> => {
    if (options.clock) {
      options.clock.advance(ttl - 1);
      expect(await store.get(k)).toBeDefined();
      options.clock.advance(1);
      return;
    }
    await eventually(
      () => store.get(k),
      (value) => value === undefined,
    );
  };
  describe(`Store contract: ${name}`, () => {
    let counter = 0;
    const key = (label: string) => `contract:${label}:${Date.now()}:${counter++}`;

    it("reads back what it wrote, as a copy", async () => {
      const store = await makeStore();
      const k = key("copy");
      const value = { a: 1, list: ["x"], nested: { ok: true } };
      await store.set(k, value);
      value.list.push("mutated");
      const read = await store.get<typeof value>(k);
      expect(read).toEqual({ a: 1, list: ["x"], nested: { ok: true } });
      read!.list.push("again");
      expect(await store.get(k)).toEqual({ a: 1, list: ["x"], nested: { ok: true } });
    });

    it("returns undefined for a missing key and deletes", async () => {
      const store = await makeStore();
      const k = key("delete");
      expect(await store.get(k)).toBeUndefined();
      expect(await store.delete(k)).toBe(false);
      await store.set(k, "v");
      expect(await store.delete(k)).toBe(true);
      expect(await store.get(k)).toBeUndefined();
    });

    it("expires entries after their TTL", async () => {
      const store = await makeStore();
      const k = key("ttl");
      await store.set(k, "short", { ttlMs: ms(150) });
      expect(await store.get(k)).toBe("short");
      await expire(store, k, ms(150));
      expect(await store.get(k)).toBeUndefined();
      expect(await store.take(k)).toBeUndefined();
      expect(await store.add(k, "again")).toBe(true);
    });

    it("add writes only when absent", async () => {
      const store = await makeStore();
      const k = key("add");
      expect(await store.add(k, 1)).toBe(true);
      expect(await store.add(k, 2)).toBe(false);
      expect(await store.get(k)).toBe(1);
    });

    it("take hands a value to exactly one of many concurrent callers", async () => {
      const store = await makeStore();
      const k = key("take");
      await store.set(k, { code: "single-use" });
      const results = await Promise.all(Array.from({ length: 50 }, () => store.take(k)));
      expect(results.filter((r) => r !== undefined)).toEqual([{ code: "single-use" }]);
      expect(await store.get(k)).toBeUndefined();
    });

    it("compareAndSet succeeds for exactly one of many concurrent callers", async () => {
      const store = await makeStore();
      const k = key("cas");
      const initial = { generation: 1, token: "a" };
      await store.set(k, initial);
      const read = await store.get(k);
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.compareAndSet(k, read, { generation: 2, token: `b${i}` }),
        ),
      );
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      const winner = outcomes.indexOf(true);
      expect(await store.get(k)).toEqual({ generation: 2, token: `b${winner}` });
      expect(await store.compareAndSet(k, initial, { generation: 3, token: "late" })).toBe(false);
    });

    it("compareAndSet with undefined expects the key to be absent", async () => {
      const store = await makeStore();
      const k = key("cas-absent");
      expect(await store.compareAndSet(k, undefined, "first")).toBe(true);
      expect(await store.compareAndSet(k, undefined, "second")).toBe(false);
      expect(await store.get(k)).toBe("first");
    });

    it("increments atomically, keeping the TTL of the first write", async () => {
      const store = await makeStore();
      const k = key("count");
      const counts = await Promise.all(
        Array.from({ length: 40 }, () => store.increment(k, 1, { ttlMs: ms(300) })),
      );
      expect(new Set(counts).size).toBe(40);
      expect(Math.max(...counts)).toBe(40);
      await expire(store, k, ms(300));
      expect(await store.increment(k, 1, { ttlMs: ms(300) })).toBe(1);
    });
  });
}
