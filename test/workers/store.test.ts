import { listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DemoEnv } from "../../examples/workers/index.ts";
import {
  cachedStore,
  durableObjectStore,
  kvCache,
  type PortcullisStore,
} from "../../src/cloudflare/index.ts";
import { memoryStore, StoreUnavailableError } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { storeContract } from "../storage/contract.ts";

const bindings = env as unknown as DemoEnv & { CACHE: KVNamespace };
let instance = 0;
// A fresh object per store, so every contract run starts empty.
const fresh = () => `contract-${Date.now()}-${instance++}`;

it("runs inside workerd", () => {
  expect(navigator.userAgent).toBe("Cloudflare-Workers");
});

// Each write waits for the Durable Object to make it durable (its output gate): 40 of them in
// a row take a few hundred milliseconds locally, longer than the contract's default 300 ms TTL.
const slow = { timeScale: 5 };

storeContract(
  "durableObjectStore",
  () => durableObjectStore(bindings.PORTCULLIS_STORE, { name: fresh() }),
  slow,
);
storeContract(
  "durableObjectStore, 4 shards",
  () => durableObjectStore(bindings.PORTCULLIS_STORE, { name: fresh(), shards: 4 }),
  slow,
);
storeContract(
  "cachedStore over durableObjectStore (non-cached keys)",
  () =>
    cachedStore(
      durableObjectStore(bindings.PORTCULLIS_STORE, { name: fresh() }),
      kvCache(bindings.CACHE),
    ),
  slow,
);

describe("durableObjectStore", () => {
  it("keeps its data in the Durable Object's SQLite database, across stubs", async () => {
    const name = fresh();
    await durableObjectStore(bindings.PORTCULLIS_STORE, { name }).set("k", { n: 1 });
    expect(await durableObjectStore(bindings.PORTCULLIS_STORE, { name }).get("k")).toEqual({
      n: 1,
    });
    const stub = bindings.PORTCULLIS_STORE.get(bindings.PORTCULLIS_STORE.idFromName(name));
    const rows = await runInDurableObject(stub, (_instance: PortcullisStore, state) =>
      state.storage.sql.exec("SELECT key, value FROM entries").toArray(),
    );
    expect(rows).toEqual([{ key: "k", value: '{"n":1}' }]);
  });

  it("spreads keys over the shards", async () => {
    const name = fresh();
    const store = durableObjectStore(bindings.PORTCULLIS_STORE, { name, shards: 4 });
    const before = (await listDurableObjectIds(bindings.PORTCULLIS_STORE)).length;
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.set(`key-${i}`, i)));
    const after = (await listDurableObjectIds(bindings.PORTCULLIS_STORE)).length;
    expect(after - before).toBe(4);
    for (let i = 0; i < 40; i++) expect(await store.get(`key-${i}`)).toBe(i);
  });

  it("sweeps expired rows in an alarm", async () => {
    const name = fresh();
    const store = durableObjectStore(bindings.PORTCULLIS_STORE, { name });
    await store.set("short", 1, { ttlMs: 50 });
    await store.set("long", 2, { ttlMs: 60_000 });
    await store.set("forever", 3);
    await store.addMember("set", "short", { ttlMs: 50 });
    await store.addMember("set", "kept");
    await new Promise((resolve) => setTimeout(resolve, 120));
    const stub = bindings.PORTCULLIS_STORE.get(bindings.PORTCULLIS_STORE.idFromName(name));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const keys = await runInDurableObject(stub, (_instance: PortcullisStore, state) =>
      state.storage.sql
        .exec<{ key: string }>("SELECT key FROM entries ORDER BY key")
        .toArray()
        .map((row) => row.key),
    );
    expect(keys).toEqual(["forever", "long"]);
    const members = await runInDurableObject(stub, (_instance: PortcullisStore, state) =>
      state.storage.sql
        .exec<{ member: string }>("SELECT member FROM members")
        .toArray()
        .map((row) => row.member),
    );
    expect(members).toEqual(["kept"]);
    // A row with a TTL remains, so the sweep is scheduled again.
    const alarm = await runInDurableObject(stub, (_i: PortcullisStore, s) => s.storage.getAlarm());
    expect(alarm).not.toBeNull();
  });

  it("rejects values that are not JSON", async () => {
    const store = durableObjectStore(bindings.PORTCULLIS_STORE, { name: fresh() });
    await expect(store.set("k", undefined)).rejects.toThrow(TypeError);
  });

  it("reports an unreachable object as StoreUnavailableError", async () => {
    const broken = {
      idFromName: (name: string) => bindings.PORTCULLIS_STORE.idFromName(name),
      get: () => {
        throw new Error("network connection lost");
      },
    } as unknown as DemoEnv["PORTCULLIS_STORE"];
    await expect(durableObjectStore(broken).get("k")).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe("kvCache", () => {
  it("reads back values and honours TTLs shorter than KV's minimum", async () => {
    const clock = manualClock();
    const cache = kvCache(bindings.CACHE, { prefix: `t${Date.now()}:`, clock: clock.now });
    await cache.set("doc", { client_id: "x" }, { ttlMs: 1000 });
    await cache.set("kept", [1, 2]);
    clock.advance(999);
    expect(await cache.get("doc")).toEqual({ client_id: "x" });
    clock.advance(1);
    expect(await cache.get("doc")).toBeUndefined();
    expect(await cache.get("kept")).toEqual([1, 2]);
    await cache.delete("kept");
    expect(await cache.get("kept")).toBeUndefined();
  });

  it("offers no atomic operations", () => {
    const cache = kvCache(bindings.CACHE) as unknown as Record<string, unknown>;
    for (const operation of ["add", "take", "compareAndSet", "increment"]) {
      expect(cache[operation]).toBeUndefined();
    }
  });
});

describe("cachedStore", () => {
  it("sends cached prefixes to the cache and refuses atomic operations on them", async () => {
    const strong = memoryStore();
    const prefix = `c${Date.now()}:`;
    const store = cachedStore(strong, kvCache(bindings.CACHE, { prefix }), {
      prefixes: ["as:cimd:"],
    });
    await store.set("as:cimd:https://client.example/meta", { client_id: "doc" }, { ttlMs: 60_000 });
    await store.set("as:code:abc", { used: false });
    expect(await strong.get("as:cimd:https://client.example/meta")).toBeUndefined();
    expect(await bindings.CACHE.get(`${prefix}as:cimd:https://client.example/meta`)).not.toBeNull();
    expect(await store.get("as:cimd:https://client.example/meta")).toEqual({ client_id: "doc" });
    expect(await strong.get("as:code:abc")).toEqual({ used: false });
    await expect(store.take("as:cimd:https://client.example/meta")).rejects.toThrow(
      /eventually consistent cache/,
    );
    await expect(store.add("as:cimd:x", 1)).rejects.toThrow(TypeError);
    await expect(store.compareAndSet("as:cimd:x", undefined, 1)).rejects.toThrow(TypeError);
    await expect(store.increment("as:cimd:x", 1)).rejects.toThrow(TypeError);
    await expect(store.addMember("as:cimd:x", "m")).rejects.toThrow(TypeError);
    await expect(store.members("as:cimd:x")).rejects.toThrow(TypeError);
    expect(await store.delete("as:cimd:https://client.example/meta")).toBe(true);
    expect(await store.get("as:cimd:https://client.example/meta")).toBeUndefined();
  });
});
