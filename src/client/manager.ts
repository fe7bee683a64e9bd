/**
 * Many servers behind one object: named connections (a URL with its own authorizer, or any
 * transport such as stdio), each opened on first use and closed when idle, their tools listed
 * together under namespaced names and calls routed to the server that owns each.
 */
import type { CallToolResult, JsonObject } from "../mcp/types.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { McpClient } from "./client.ts";
import type { ConnectionState, StateChange } from "./health.ts";
import type { CallToolOptions, ConnectOptions, McpClientOptions } from "./options.ts";
import type { RequestOptions } from "./request-options.ts";
import { type ClientTimers, systemTimers } from "./retry.ts";
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
};

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
  /** What the idle sweep waits with. Default real timers. */
  timers?: ClientTimers;
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
  /** Why the last connect failed, when it did. */
  error?: string;
}

interface Entry {
  spec: ManagedServer;
  client: McpClient | undefined;
  connecting: Promise<McpClient> | undefined;
  lastUsed: number | undefined;
  /** Requests under way: a busy connection is never idle. */
  busy: number;
  error: string | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Holds named connections to MCP servers and opens each only when first used.
 *
 * ```ts
 * const servers = new ConnectionManager({
 *   client: { name: "agent", version: "1.0.0" },
 *   servers: {
 *     notes: { url: "https://notes.example/mcp", connect: { authorizer } },
 *     files: { transport: () => stdioClientTransport({ command: "npx", args: [...] }) },
 *   },
 * });
 * const tools = await servers.listTools(); // "notes__add_note", "files__read_file", …
 * await servers.callTool("files__read_file", { path: "a.txt" });
 * ```
 */
export class ConnectionManager {
  readonly #options: ConnectionManagerOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #separator: string;
  readonly #idleMs: number;
  readonly #clock: Clock;
  readonly #timers: ClientTimers;
  #sweeping: AbortController | undefined;
  #closed = false;

  constructor(options: ConnectionManagerOptions) {
    this.#options = options;
    this.#separator = options.separator ?? "__";
    if (this.#separator.length === 0) throw new TypeError("separator must not be empty");
    this.#idleMs = options.idleTimeoutMs ?? 300_000;
    if (!Number.isFinite(this.#idleMs) || this.#idleMs < 0) {
      throw new TypeError("idleTimeoutMs must be a finite number of at least 0");
    }
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    for (const [name, spec] of Object.entries(options.servers ?? {})) this.add(name, spec);
  }

  /** Adds a server; nothing connects until it is used. */
  add(name: string, spec: ManagedServer): void {
    if (!NAME.test(name) || name.includes(this.#separator)) {
      throw new TypeError(
        `Server name ${JSON.stringify(name)} must be 1-64 letters, digits, "_", "-" or ".", without "${this.#separator}"`,
      );
    }
    if (this.#entries.has(name)) throw new TypeError(`There is already a server named ${name}`);
    const hasUrl = "url" in spec && spec.url !== undefined;
    if (hasUrl === ("transport" in spec && typeof spec.transport === "function")) {
      throw new TypeError(`Server ${name} needs either a url or a transport factory`);
    }
    if (hasUrl && !URL.canParse((spec as { url: string | URL }).url)) {
      throw new TypeError(`Server ${name} has no valid url`);
    }
    const entry: Entry = {
      spec,
      busy: 0,
      client: undefined,
      connecting: undefined,
      lastUsed: undefined,
      error: undefined,
    };
    this.#entries.set(name, entry);
  }

  /** Closes and forgets a server. */
  async remove(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    this.#entries.delete(name);
    if (entry) await this.#disconnect(entry);
  }

  /** The servers' names. */
  get names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Each server's state; `idle` for one never connected. */
  status(): Record<string, ServerStatus> {
    const status: Record<string, ServerStatus> = {};
    for (const [name, entry] of this.#entries) {
      // A connection closed for idleness reads "closed" until it is used again.
      const report: ServerStatus = {
        state: entry.client?.state ?? (entry.lastUsed === undefined ? "idle" : "closed"),
      };
      if (entry.lastUsed !== undefined) report.lastUsed = entry.lastUsed;
      if (entry.error !== undefined) report.error = entry.error;
      status[name] = report;
    }
    return status;
  }

  /** The connected client of a server, connecting first if need be. */
  client(name: string): Promise<McpClient> {
    const entry = this.#entry(name);
    const live = entry.client;
    if (live?.connected && live.state !== "closed") return Promise.resolve(live);
    entry.connecting ??= this.#connect(name, entry).finally(() => {
      entry.connecting = undefined;
    });
    return entry.connecting;
  }

  /**
   * The tools of every server, named `<server><separator><tool>`. A server that cannot be
   * reached is left out and named in `failed`, so one broken server does not hide the rest.
   */
  async listTools(
    options: RequestOptions = {},
  ): Promise<{ tools: ManagedTool[]; failed: { server: string; error: unknown }[] }> {
    const names = this.names;
    const results = await Promise.allSettled(
      names.map((server) =>
        this.#use(server, async (client) => {
          const tools: ManagedTool[] = [];
          for await (const tool of client.tools(options)) {
            tools.push({
              ...tool,
              name: `${server}${this.#separator}${tool.name}`,
              server,
              tool: tool.name,
            });
          }
          return tools;
        }),
      ),
    );
    const tools: ManagedTool[] = [];
    const failed: { server: string; error: unknown }[] = [];
    results.forEach((result, index) => {
      if (result.status === "fulfilled") tools.push(...result.value);
      else failed.push({ server: names[index]!, error: result.reason });
    });
    return { tools, failed };
  }

  /** Calls a tool by its namespaced name on the server it belongs to. */
  async callTool(
    name: string,
    args: JsonObject = {},
    options: CallToolOptions = {},
  ): Promise<CallToolResult> {
    const { server, tool } = this.route(name);
    return this.#use(server, (client) => client.callTool(tool, args, options));
  }

  /** The server and tool a namespaced name stands for; TypeError for one that names none. */
  route(name: string): { server: string; tool: string } {
    const at = name.indexOf(this.#separator);
    const server = at > 0 ? name.slice(0, at) : "";
    const tool = at > 0 ? name.slice(at + this.#separator.length) : "";
    if (!this.#entries.has(server) || tool === "") {
      throw new TypeError(`No server's tool is named ${JSON.stringify(name)}`);
    }
    return { server, tool };
  }

  /** Closes the connections unused for idleTimeoutMs; returns their names. */
  async closeIdle(): Promise<string[]> {
    if (this.#idleMs === 0) return [];
    const now = this.#clock();
    const idle = [...this.#entries].filter(
      ([, entry]) =>
        entry.client?.connected && entry.busy === 0 && (entry.lastUsed ?? 0) + this.#idleMs <= now,
    );
    await Promise.all(idle.map(([, entry]) => this.#disconnect(entry)));
    return idle.map(([name]) => name);
  }

  /** Closes every connection and stops the idle sweep; the manager is done. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#sweeping?.abort();
    await Promise.all([...this.#entries.values()].map((entry) => this.#disconnect(entry)));
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (!entry) throw new TypeError(`No server is named ${JSON.stringify(name)}`);
    return entry;
  }

  async #use<T>(name: string, work: (client: McpClient) => Promise<T>): Promise<T> {
    const entry = this.#entry(name);
    entry.busy++;
    try {
      const client = await this.client(name);
      entry.lastUsed = this.#clock();
      return await work(client);
    } finally {
      entry.busy--;
      entry.lastUsed = this.#clock();
    }
  }

  async #connect(name: string, entry: Entry): Promise<McpClient> {
    if (this.#closed) throw new TypeError("The connection manager is closed");
    const { spec } = entry;
    const onStateChange = this.#options.onStateChange;
    const client = new McpClient({
      ...this.#options.client,
      ...spec.client,
      ...(onStateChange && { onStateChange: (change: StateChange) => onStateChange(name, change) }),
    });
    const target = "url" in spec ? spec.url : spec.transport();
    try {
      await client.connect(target, spec.connect ?? {});
    } catch (error) {
      entry.error = error instanceof Error ? error.message : String(error);
      throw error;
    }
    entry.error = undefined;
    entry.client = client;
    this.#sweep();
    return client;
  }

  async #disconnect(entry: Entry): Promise<void> {
    const client = entry.client;
    entry.client = undefined;
    await client?.close().catch(() => undefined);
  }

  /** While any connection is open, closes the idle ones every idleTimeoutMs. */
  #sweep(): void {
    if (this.#idleMs === 0 || this.#sweeping) return;
    const controller = new AbortController();
    this.#sweeping = controller;
    void (async () => {
      while (!controller.signal.aborted) {
        try {
          await this.#timers.sleep(this.#idleMs, controller.signal);
        } catch {
          return;
        }
        await this.closeIdle();
        if (![...this.#entries.values()].some((entry) => entry.client?.connected)) break;
      }
      if (this.#sweeping === controller) this.#sweeping = undefined;
    })();
  }
}
