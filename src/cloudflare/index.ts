export {
  type DurableObjectStoreOptions,
  durableObjectStore,
  PortcullisStore,
  type PortcullisStoreNamespace,
} from "./durable-object.ts";
export {
  type Cache,
  type CachedStoreOptions,
  cachedStore,
  type KvCacheOptions,
  kvCache,
} from "./kv.ts";
export {
  type CloudflareQueues,
  type CloudflareQueuesOptions,
  cloudflareQueues,
  MAILBOX,
  type QueueBatchHandler,
} from "./queues.ts";
export {
  type FetchHandler,
  McpSessionObject,
  type RouteToSessionOptions,
  routeToSession,
  type SessionNamespace,
} from "./sessions.ts";
