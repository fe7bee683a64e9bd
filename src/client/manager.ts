/**
 * Many servers behind one object: named connections (a URL with its own authorizer, or any
 * transport such as stdio), each opened on first use and closed when idle, their tools listed
 * together under namespaced names and calls routed to the server that owns each.
 */
import type { CallToolResult, JsonObject } from "../mcp/types.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { McpClient } from "./client.ts";
import { TransportError } from "./errors.ts";
import type { StateChange } from "./health.ts";
import type {
  ConnectionManagerOptions,
  ManagedServer,
  ManagedTool,
  ServerStatus,
} from "./manager-types.ts";
import type { CallToolOptions } from "./options.ts";
import type { RequestOptions } from "./request-options.ts";
import { type RestartPolicy, resolveRestart, restartDelay } from "./restart.ts";
import { type ClientTimers, systemTimers } from "./retry.ts";
import type { ClientTransport } from "./transport.ts";

export type {
  ConnectionManagerOptions,
  ManagedServer,
  ManagedServerHooks,
  ManagedTool,
  ServerStatus,
} from "./manager-types.ts";

interface Entry {
  spec: ManagedServer;
  client: McpClient | undefined;
  connecting: Promise<McpClient> | undefined;
  lastUsed: number | undefined;
  /** Requests under way: a busy connection is never idle. */
  busy: number;
  error: string | undefined;
  restart: RestartPolicy | undefined;
  restarts: number;
  restarting: { attempt: number; delayMs: number } | undefined;
  /** Stops a pending restart (the server was removed or the manager closed). */
  outage: AbortController | undefined;
  transport: ClientTransport | undefined;
  stderr: string | undefined;
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
  readonly #restart: RestartPolicy | undefined;
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
    this.#restart = resolveRestart(options.restart);
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
      restart: spec.restart === undefined ? this.#restart : resolveRestart(spec.restart),
      restarts: 0,
      restarting: undefined,
      outage: undefined,
      transport: undefined,
      stderr: undefined,
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

  /** Each server's state (or only server `only`'s); `idle` for one never connected. */
  status(only?: string): Record<string, ServerStatus> {
    const status: Record<string, ServerStatus> = {};
    const one = only === undefined ? undefined : this.#entries.get(only);
    const entries = only === undefined ? this.#entries : one ? [[only, one] as const] : [];
    for (const [name, entry] of entries) {
      // A connection closed for idleness reads "closed" until it is used again.
      const report: ServerStatus = {
        state: entry.restarting
          ? "reconnecting"
          : (entry.client?.state ??
            (entry.lastUsed === undefined && entry.error === undefined ? "idle" : "closed")),
        restarts: entry.restarts,
      };
      if (entry.lastUsed !== undefined) report.lastUsed = entry.lastUsed;
      if (entry.error !== undefined) report.error = entry.error;
      if (entry.restarting) report.restarting = { ...entry.restarting };
      const stderr = entry.transport?.stderrTail ?? entry.stderr;
      if (stderr) report.stderr = stderr;
      status[name] = report;
    }
    return status;
  }

  /** The connected client of a server, connecting first if need be. */
  client(name: string): Promise<McpClient> {
    const entry = this.#entry(name);
    const live = entry.client;
    if (live?.connected && live.state !== "closed") return Promise.resolve(live);
    if (entry.restarting) {
      // Down and waiting for its restart: say so at once rather than hang the caller.
      const { attempt, delayMs } = entry.restarting;
      return Promise.reject(
        new TransportError(
          "ERR_CONNECTION_CLOSED",
          `The server ${JSON.stringify(name)} is down; restart ${attempt} is due after ${delayMs} ms`,
        ),
      );
    }
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
    for (const entry of this.#entries.values()) entry.outage?.abort();
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
    const own = spec.client?.onStateChange;
    const client = new McpClient({
      ...this.#options.client,
      ...spec.client,
      ...((onStateChange || own) && {
        onStateChange: (change: StateChange) => {
          own?.(change);
          onStateChange?.(name, change);
        },
      }),
    });
    spec.hooks?.created?.(client);
    const target = "url" in spec ? spec.url : spec.transport();
    entry.transport = typeof target === "object" && "start" in target ? target : undefined;
    try {
      await client.connect(target, spec.connect ?? {});
      await spec.hooks?.ready?.(client);
    } catch (error) {
      entry.error = error instanceof Error ? error.message : String(error);
      await client.close().catch(() => undefined);
      throw error;
    }
    if (this.#closed || this.#entries.get(name) !== entry) {
      await client.close().catch(() => undefined);
      throw new TransportError("ERR_CONNECTION_CLOSED", `The server ${name} was closed meanwhile`);
    }
    entry.error = undefined;
    entry.client = client;
    client.watch((change) => {
      // Ended unasked: the manager's own close() forgets the client first.
      if (change.state === "closed" && entry.client === client)
        this.#lost(name, entry, change.error);
    });
    this.#sweep();
    return client;
  }

  async #disconnect(entry: Entry): Promise<void> {
    const client = entry.client;
    entry.client = undefined;
    entry.outage?.abort();
    entry.restarting = undefined;
    await client?.close().catch(() => undefined);
  }

  /** The connection ended unasked: keep why, and restart it when the policy says so. */
  #lost(name: string, entry: Entry, error: unknown): void {
    entry.client = undefined;
    entry.error = error instanceof Error ? error.message : "The connection ended";
    entry.stderr = entry.transport?.stderrTail;
    if (entry.restart && !this.#closed) void this.#restartLoop(name, entry, entry.restart, error);
  }

  async #restartLoop(name: string, entry: Entry, policy: RestartPolicy, cause: unknown) {
    const outage = new AbortController();
    entry.outage = outage;
    const report = (change: StateChange) => this.#options.onStateChange?.(name, change);
    let error = cause;
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      const delayMs = restartDelay(policy, attempt);
      entry.restarting = { attempt, delayMs };
      report({ state: "reconnecting", previous: "closed", error });
      try {
        await this.#timers.sleep(delayMs, outage.signal);
      } catch {
        return;
      }
      if (outage.signal.aborted) return;
      entry.restarting = undefined;
      try {
        entry.connecting ??= this.#connect(name, entry).finally(() => {
          entry.connecting = undefined;
        });
        const client = await entry.connecting;
        entry.restarts++;
        entry.outage = undefined;
        entry.spec.hooks?.restarted?.(client);
        return;
      } catch (failure) {
        if (outage.signal.aborted) return;
        error = failure;
        entry.stderr = entry.transport?.stderrTail ?? entry.stderr;
      }
    }
    entry.outage = undefined;
    report({ state: "closed", previous: "reconnecting", error });
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
