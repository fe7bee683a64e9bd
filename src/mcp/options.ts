import type { Clock } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";
import type { TaskOptions } from "./tasks/options.ts";
import type { Implementation } from "./types.ts";
import type { ProtocolVersion } from "./versions.ts";

/** The server's own identity (name, version, title, ...) as sent to clients, and its settings. */
export interface McpServerOptions extends Implementation {
  /** Told to the client at initialize: how to use this server. */
  instructions?: string;
  /** Items per page of tools/list, resources/list and prompts/list. Default 100. */
  pageSize?: number;
  /** Revisions offered, newest first. Default: every revision this version speaks. */
  protocolVersions?: readonly ProtocolVersion[];
  /**
   * List tools, resources and prompts even to callers whose token lacks their scopes (they
   * still cannot use them). Default false: each caller sees what it may use.
   */
  listUnauthorized?: boolean;
  /**
   * Seals the `requestState` of multi round-trip requests (2026-07-28); at least 32
   * characters. Every instance behind one load balancer needs the same secret. Default: a
   * random one per process.
   */
  secret?: string;
  /** How long a multi round-trip request may wait for the client's answers. Default 10 minutes. */
  inputTtlMs?: number;
  /** Cache hints on list, read and discover results (2026-07-28). Default ttlMs 0. */
  cache?: CacheHints;
  /** Tool calls as tasks: where they are stored, their lifetimes, completion webhooks. */
  tasks?: TaskOptions;
  /**
   * Epoch ms now, for multi round-trip state and (unless `tasks.clock` is given) tasks.
   * Default Date.now.
   */
  clock?: Clock;
  /**
   * Where tool exceptions and internal errors (error), and the endpoint's requests (debug),
   * are reported. Default: lines on stderr; silent under vitest.
   */
  logger?: Logger;
}

/** How long clients may cache a result, and whether shared caches may keep it. */
export interface CacheHints {
  ttlMs?: number;
  /** Default "private" for authenticated callers, else "public". */
  scope?: "public" | "private";
}
