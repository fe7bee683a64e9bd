import { afterAll, expect, it } from "vitest";
import { redisBus, redisEventStore } from "../../src/redis/index.ts";
import { eventually, until } from "../helpers/async.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

const note = (n: number) => ({
  jsonrpc: "2.0" as const,
  method: "notifications/message",
  params: { n },
});

describeRedis("redisEventStore", (url) => {
  afterAll(closeClients);

  it("numbers a stream's events from 1 and replays those after a position", async () => {
    const events = redisEventStore({ client: client(url), prefix: uniquePrefix("events") });
    const positions = [];
    for (let i = 1; i <= 5; i++) positions.push(await events.append("s1", note(i)));
    expect(positions).toEqual([1, 2, 3, 4, 5]);
    const replay = await events.replay("s1", 3);
    expect(replay).toEqual([
      { position: 4, message: note(4) },
      { position: 5, message: note(5) },
    ]);
    expect(await events.replay("s1", 5)).toEqual([]);
    expect(await events.replay("unknown", 0)).toBeUndefined();
    await events.drop("s1");
    expect(await events.replay("s1", 0)).toBeUndefined();
  });

  it("gives concurrent appenders on several clients distinct positions", async () => {
    const prefix = uniquePrefix("events-concurrent");
    const stores = [1, 2, 3].map(() => redisEventStore({ client: client(url), prefix }));
    const positions = await Promise.all(
      Array.from({ length: 60 }, (_, i) => stores[i % 3]!.append("shared", note(i))),
    );
    expect(new Set(positions).size).toBe(60);
    expect(Math.max(...positions)).toBe(60);
    expect((await stores[0]!.replay("shared", 0))?.map((e) => e.position)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
  });

  it("is bounded by length (roughly, MAXLEN ~) and by age", async () => {
    const redis = client(url);
    const prefix = uniquePrefix("events-bounds");
    const short = redisEventStore({ client: redis, prefix, maxEventsPerStream: 10 });
    for (let i = 1; i <= 500; i++) await short.append("long", note(i));
    const kept = (await short.replay("long", 0))!;
    // Redis trims whole radix-tree nodes (100 entries by default) with "~": at most that many extra.
    expect(kept.length).toBeLessThanOrEqual(110);
    expect(kept.at(-1)?.position).toBe(500);

    const aging = redisEventStore({ client: redis, prefix, maxAgeMs: 300 });
    await aging.append("aging", note(1));
    expect(await redis.pttl(`${prefix}events:{aging}`)).toBeLessThanOrEqual(300);
    // Redis expires the stream in its own time.
    await eventually(
      () => aging.replay("aging", 0),
      (events) => events === undefined,
    );
  });
});

describeRedis("redisBus", (url) => {
  afterAll(closeClients);

  it("delivers to every subscriber, in publish order, until it unsubscribes", async () => {
    const prefix = uniquePrefix("bus");
    const a = redisBus({ client: client(url), prefix });
    const b = redisBus({ client: client(url), prefix });
    const seenA: string[] = [];
    const seenB: string[] = [];
    const stopA = a.subscribe("ch", (m) => seenA.push(m));
    b.subscribe("ch", (m) => seenB.push(m));
    await Promise.all([a.ready(), b.ready()]);
    for (let i = 0; i < 20; i++) await a.publish("ch", `m${i}`);
    await until(() => seenA.length >= 20 && seenB.length >= 20);
    const expected = Array.from({ length: 20 }, (_, i) => `m${i}`);
    expect(seenA).toEqual(expected);
    expect(seenB).toEqual(expected);
    stopA();
    await a.ready();
    await b.publish("ch", "after");
    await a.publish("ch", "last");
    // Both arrive at b in publish order; by then a, which published "last", got neither.
    await until(() => seenB.at(-1) === "last");
    expect(seenB.slice(-2)).toEqual(["after", "last"]);
    expect(seenA).toHaveLength(20);
    await Promise.all([a.close(), b.close()]);
  });
});
