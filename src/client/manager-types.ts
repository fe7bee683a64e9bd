/** The shapes of the connection manager's options and reports. */

import type { Clock } from "../util/clock.ts";
import type { McpClient } from "./client.ts";
import type { ConnectionState, StateChange } from "./health.ts";
import type { ConnectOptions, McpClientOptions } from "./options.ts";
import type { RestartOptions } from "./restart.ts";
import type { ClientTimers } from "./retry.ts";
import type { ClientTransport } from "./transport.ts";
import type { Tool } from "./types.ts";

/** One server the manager may connect to. */
export type ManagedServer = (
  | {
      /** A Streamable HTTP endpoint; `connect` holds its authorizer, headers, state store. */
      url: string | URL;
      connect?: ConnectOptions;
    }
  | {
      /** Makes a fresh transport for each connection, e.g. `() => stdioClientTransport({...})`. */
      transport: () => ClientTransport;
      connect?: Omit<ConnectOptions, "authorizer" | "headers" | "fetch">;
    }
) & {
  /** Client options for this server alone, over the manager's. */
  client?: Partial<McpClientOptions>;
  /** How this server is restarted when its connection ends unasked; over the manager's. */
  restart?: RestartOptions | false;
  /** Called around each new connection of this server (the first and every restart). */
  hooks?: ManagedServerHooks;
};

/** What a server's owner hears about its connections. */
export interface ManagedServerHooks {
  /** A new client, before it connects: add client middleware here. */
  created?(client: McpClient): void;
  /**
   * The client connected; runs before anyone is handed it (set a log level, subscribe again).
   * A rejection fails the connect.
   */
  ready?(client: McpClient): Promise<void> | void;
  /** A restart after the connection ended unasked succeeded. */
  restarted?(client: McpClient): void;
}

export interface ConnectionManagerOptions {
  /** The options every client starts from (name, version, handlers, retry, ping…). */
  client: McpClientOptions;
  servers?: Record<string, ManagedServer>;
  /** Close a connection unused for this long; it opens again on next use. Default 5 min; 0 never. */
  idleTimeoutMs?: number;
  /** Between the server's name and the tool's in a namespaced name. Default "__". */
  separator?: string;
  /** Every state change of every connection. */
  onStateChange?: (server: string, change: StateChange) => void;
  /** What idle time is measured by. Default Date.now. */
  clock?: Clock;
  /** What the idle sweep and restart backoff wait with. Default real timers. */
  timers?: ClientTimers;
  /**
   * Restarts a connection that ended unasked (a crashed stdio server), with exponential
   * backoff and jitter; a server's own `restart` overrides it. Default none: the connection
   * opens again on next use.
   */
  restart?: RestartOptions | false;
}

/** A tool of one of the servers, under its namespaced name. */
export type ManagedTool = Tool & {
  /** The server it belongs to. */
  server: string;
  /** Its name on that server. */
  tool: string;
};

/** How one server stands. */
export interface ServerStatus {
  state: ConnectionState;
  /** Epoch ms of the last request through the manager, if any. */
  lastUsed?: number;
  /** Why the last connect failed or the connection ended, when it did. */
  error?: string;
  /** Restarts after the connection ended unasked, so far. */
  restarts: number;
  /** While waiting to restart: which try of this outage comes next, and after how long. */
  restarting?: { attempt: number; delayMs: number };
  /** The server's last diagnostic output (a stdio process's stderr), when it is kept. */
  stderr?: string;
}
