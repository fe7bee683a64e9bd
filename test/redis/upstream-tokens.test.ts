/**
 * ctx.upstream.token() on a real redis-server: the refresh lock, the compare-and-set of the
 * refreshed tokens and their removal go through Redis, shared by two instances.
 */
import { afterAll } from "vitest";
import { redisStore } from "../../src/redis/index.ts";
import { upstreamTokensSuite } from "../e2e/upstream-tokens-suite.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

describeRedis("upstream tokens on Redis", (url) => {
  afterAll(closeClients);
  upstreamTokensSuite("Redis Store", () =>
    redisStore({ client: client(url), prefix: uniquePrefix("upstream") }),
  );
});
