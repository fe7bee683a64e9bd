export type { Clock } from "../util/clock.ts";
export { type MemoryStoreOptions, memoryStore } from "./memory.ts";
export { type Store, StoreUnavailableError, type StoreValue, type WriteOptions } from "./store.ts";
