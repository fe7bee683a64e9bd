export type { Guard } from "../resource/guard.ts";
export { type Bus, BusUnavailableError, memoryBus } from "../storage/bus.ts";
export {
  type EventStore,
  type MemoryEventStoreOptions,
  memoryEventStore,
  type StoredEvent,
} from "./event-store.ts";
export {
  busCheck,
  type CheckState,
  type HealthCheck,
  type HealthOptions,
  healthRoutes,
  storeCheck,
} from "./health.ts";
export type { OriginOptions } from "./origin.ts";
export { type McpAppOptions, type McpRouteOptions, mcpApp, mcpRoute } from "./route.ts";
export type { SessionOptions } from "./sessions.ts";
export { type TransportStats, transportStats } from "./stats.ts";
export { type StreamableHttpOptions, StreamableHttpTransport } from "./transport.ts";
