import { afterAll, expect, it } from "vitest";
import { redisStore } from "../../src/redis/index.ts";
import { StoreUnavailableError } from "../../src/storage/index.ts";
import { storeContract } from "../storage/contract.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

describeRedis("redisStore", (url) => {
  afterAll(closeClients);

  storeContract("redisStore", () =>
    redisStore({ client: client(url), prefix: uniquePrefix("contract") }),
  );

  it("keeps its keys under the prefix, with Redis expiry for TTLs", async () => {
    const redis = client(url);
    const prefix = uniquePrefix("layout");
    const store = redisStore({ client: redis, prefix });
    await store.set("a", { x: 1 }, { ttlMs: 60_000 });
    expect(await redis.get(`${prefix}a`)).toBe('{"x":1}');
    const ttl = await redis.pttl(`${prefix}a`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("keeps a set as a sorted set that lives as long as its longest-lived member", async () => {
    const redis = client(url);
    const prefix = uniquePrefix("set");
    const store = redisStore({ client: redis, prefix });
    await store.addMember("s", "a", { ttlMs: 30_000 });
    await store.addMember("s", "b", { ttlMs: 60_000 });
    expect(await redis.type(`${prefix}s`)).toBe("zset");
    const ttl = await redis.pttl(`${prefix}s`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await store.addMember("s", "c");
    expect(await redis.pttl(`${prefix}s`)).toBe(-1);
  });

  it("compareAndSet compares the stored JSON text, key order included", async () => {
    const store = redisStore({ client: client(url), prefix: uniquePrefix("cas") });
    await store.set("k", { a: 1, b: 2 });
    expect(await store.compareAndSet("k", { b: 2, a: 1 }, "no")).toBe(false);
    expect(await store.compareAndSet("k", { a: 1, b: 2 }, "yes", { ttlMs: 5_000 })).toBe(true);
    expect(await store.get("k")).toBe("yes");
  });

  it("fails with StoreUnavailableError, after its deadline, when Redis is not there", async () => {
    // A closed port: nothing listens on port 1 of loopback.
    const redis = client("redis://127.0.0.1:1");
    const store = redisStore({ client: redis, timeoutMs: 300 });
    const started = Date.now();
    const error = await store.get("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe("ERR_STORE_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
