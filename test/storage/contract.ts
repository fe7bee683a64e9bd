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
  const expire = async (store: Store, k: string, ttl: number): Promise<void> =>
    expireBy(ttl, async () => (await store.get(k)) !== undefined);
  /** Lets a TTL run out, `present` telling whether what it applies to is still there. */
  const expireBy = async (ttl: number, present: () => Promise<boolean>): Promise<void> => {
    if (options.clock) {
      options.clock.advance(ttl - 1);
      expect(await present()).toBe(true);
      options.clock.advance(1);
      return;
    }
    await eventually(present, (still) => !still);
  };
  const sorted = async (store: Store, k: string) => (await store.members(k)).sort();
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

    it("keeps a set: adds, lists and removes members", async () => {
      const store = await makeStore();
      const k = key("set");
      expect(await store.members(k)).toEqual([]);
      await store.addMember(k, "b");
      await store.addMember(k, "a");
      await store.addMember(k, "a");
      await store.addMember(k, "with space:and\nnewline");
      expect(await sorted(store, k)).toEqual(["a", "b", "with space:and\nnewline"]);
      expect(await store.removeMember(k, "a")).toBe(true);
      expect(await store.removeMember(k, "a")).toBe(false);
      expect(await store.removeMember(k, "never")).toBe(false);
      expect(await sorted(store, k)).toEqual(["b", "with space:and\nnewline"]);
      // Sets are per key.
      expect(await store.members(key("other-set"))).toEqual([]);
    });

    it("expires each member by its own TTL; adding again replaces the TTL", async () => {
      const store = await makeStore();
      const k = key("set-ttl");
      await store.addMember(k, "short", { ttlMs: ms(150) });
      await store.addMember(k, "renewed", { ttlMs: ms(150) });
      await store.addMember(k, "forever");
      // The renewal drops the TTL: it now lives until removed.
      await store.addMember(k, "renewed");
      expect(await sorted(store, k)).toEqual(["forever", "renewed", "short"]);
      await expireBy(ms(150), async () => (await store.members(k)).includes("short"));
      expect(await sorted(store, k)).toEqual(["forever", "renewed"]);
      // An expired member is not "there" to remove.
      expect(await store.removeMember(k, "short")).toBe(false);
      // A set whose members all expired reads as empty, and takes new members.
      const gone = key("set-all-expire");
      await store.addMember(gone, "x", { ttlMs: ms(150) });
      await expireBy(ms(150), async () => (await store.members(gone)).length > 0);
      expect(await store.members(gone)).toEqual([]);
      await store.addMember(gone, "y");
      expect(await store.members(gone)).toEqual(["y"]);
    });

    it("loses no member to concurrent writers, and removes each once", async () => {
      const store = await makeStore();
      const k = key("set-race");
      const names = Array.from({ length: 40 }, (_, i) => `m${String(i).padStart(2, "0")}`);
      await Promise.all(names.map((name) => store.addMember(k, name, { ttlMs: ms(60_000) })));
      expect(await sorted(store, k)).toEqual(names);
      // Half removed, each by many racing callers, while the other half is re-added.
      const removals = await Promise.all(
        names
          .slice(0, 20)
          .flatMap((name) => [store.removeMember(k, name), store.removeMember(k, name)]),
      );
      await Promise.all(names.slice(20).map((name) => store.addMember(k, name)));
      expect(removals.filter(Boolean)).toHaveLength(20);
      expect(await sorted(store, k)).toEqual(names.slice(20));
    });
  });
}
