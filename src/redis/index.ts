export { type RedisBus, type RedisBusOptions, redisBus } from "./bus.ts";
export {
  connectRedis,
  RECOMMENDED_CLIENT_OPTIONS,
  type RedisClient,
  type RedisClientOptions,
} from "./client.ts";
export { type RedisEventStoreOptions, redisEventStore } from "./event-store.ts";
export { type RedisStoreOptions, redisStore } from "./store.ts";
export {
  type RedisStreams,
  type RedisStreamsOptions,
  redisStreams,
  type StreamConsumerOptions,
} from "./streams.ts";
