/**
 * One connection to an upstream, and the requests forwarded through it. The connection itself
 * (opening it, restarting it with backoff when it ends unasked, its state) is an entry of the
 * gateway's ConnectionManager; the link keeps what is the gateway's: routing the upstream's
 * questions to the calls they belong to, its log level and its resource subscriptions.
 */
import type { McpClient } from "../client/client.ts";
import type { ConnectionManager, ManagedServer } from "../client/manager.ts";
import type { HandlerExtra, McpClientOptions } from "../client/options.ts";
import { isObject } from "../mcp/content.ts";
import type { Context } from "../mcp/context.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import { TASKS_EXTENSION } from "../mcp/tasks/record.ts";
import type { ClientCapabilities, JsonObject } from "../mcp/types.ts";
import { isModernVersion } from "../mcp/versions.ts";
import type { Logger } from "../util/log.ts";
import { UpstreamCall } from "./call.ts";
import type { ResolvedUpstream, Timing } from "./options.ts";
import type { Parking } from "./relay.ts";
import { UpstreamSubscriptions } from "./upstream-subscriptions.ts";

export type LinkState = "starting" | "ready" | "down" | "closed";

/** What a link needs from the gateway around it. */
export interface LinkEnv {
  /** Holds every upstream connection of the gateway, one entry per link. */
  manager: ConnectionManager;
  timing: Timing;
  logger: Logger;
  parking: Parking;
  /** The upstream's tools, prompts or resources changed (undefined: after a restart). */
  listChanged?: ((list?: "tools" | "prompts" | "resources") => void) | undefined;
  /** Sees each new upstream client before it connects (GatewayOptions.upstreamClient). */
  upstreamClient?: ((client: McpClient, upstream: string) => void) | undefined;
  /**
   * A resource the gateway subscribed to changed upstream (the upstream's own URI); with
   * `user` (a `userOf` key), only that user's sessions and listeners may hear of it.
   */
  resourceUpdated?: ((uri: string, user?: string) => void) | undefined;
  /** A per-user upstream's list changed: tells that user alone. */
  userListChanged?: ((user: string, list: "tools" | "prompts" | "resources") => void) | undefined;
}

/** Refuses a request the upstream cannot take now: it is down or not started. */
export function unavailable(name: string, state: LinkState | "failed"): McpError {
  return new McpError(
    ErrorCode.ConnectionClosed,
    `The upstream "${name}" is unavailable (${state}); try again shortly`,
    { upstream: name, state },
  );
}

/**
 * Whether a caller takes tasks: a 2026-07-28 caller that declared the tasks extension (so an
 * upstream's -32021 reaches one that did not), and any 2025 caller, whose call the gateway
 * waits for behind it.
 */
function takesTasks(ctx: Context): boolean {
  const client = ctx.client;
  if (!isModernVersion(client.protocolVersion)) return true;
  const extensions = client.capabilities?.extensions;
  return isObject(extensions) && TASKS_EXTENSION in extensions;
}

/**
 * What a 2026-07-28 upstream may ask of this caller: the caller's own elicitation, sampling
 * and roots, so the upstream asks nothing the caller cannot answer. Undefined when the caller
 * declared nothing the gateway knows of (a stateless 2025 request): the link's own then.
 */
function inputCapabilities(ctx: Context): ClientCapabilities | undefined {
  const caller = ctx.client.capabilities;
  if (!caller) return undefined;
  const declared: ClientCapabilities = {};
  if (caller.elicitation) declared.elicitation = caller.elicitation;
  if (caller.sampling) declared.sampling = {};
  if (caller.roots) declared.roots = {};
  return declared;
}

export class Link {
  readonly upstream: ResolvedUpstream;
  readonly #subject: string | undefined;
  readonly #env: LinkEnv;
  /** Its entry in the connection manager. */
  readonly #entry: string;
  readonly calls = new Set<UpstreamCall>();
  lastUsed: number;
  #started = false;
  #closed = false;
  /** The client of the current connection, once it is set up. */
  #client: McpClient | undefined;
  /** Resource subscriptions held upstream for callers, subscribed again after a restart. */
  readonly #subscriptions: UpstreamSubscriptions;

  constructor(
    upstream: ResolvedUpstream,
    subject: string | undefined,
    env: LinkEnv,
    entry: string = upstream.name,
  ) {
    this.upstream = upstream;
    this.#subject = subject;
    this.#env = env;
    this.#entry = entry;
    this.lastUsed = env.timing.clock();
    this.#subscriptions = new UpstreamSubscriptions(
      upstream.name,
      env.logger,
      env.timing.startTimeoutMs,
    );
  }

  /** Where the connection stands, from the manager's view of its entry. */
  get state(): LinkState {
    if (this.#closed) return "closed";
    const status = this.#env.manager.status(this.#entry)[this.#entry];
    if (!status) return this.#started ? "closed" : "starting";
    if (status.restarting) return "down";
    if (this.#client && ["ready", "unhealthy", "reconnecting"].includes(status.state)) {
      return "ready";
    }
    return this.#started ? "down" : "starting";
  }

  /** How many times the upstream was restarted after it ended unasked. */
  get restarts(): number {
    return this.#env.manager.status(this.#entry)[this.#entry]?.restarts ?? 0;
  }

  /** Why the connection last failed or ended, and its process's last stderr lines, if kept. */
  get diagnostics(): { error?: string; stderr?: string } {
    const { error, stderr } = this.#env.manager.status(this.#entry)[this.#entry] ?? {};
    return { ...(error !== undefined && { error }), ...(stderr !== undefined && { stderr }) };
  }

  /** The connected client; throws when the upstream is not ready. */
  get client(): McpClient {
    const state = this.state;
    if (state !== "ready" || !this.#client) throw unavailable(this.upstream.name, state);
    return this.#client;
  }

  /** Connects; rejects when the upstream cannot start or answer its handshake. */
  async start(): Promise<void> {
    const client: Partial<McpClientOptions> = {
      name: "portcullis-gateway",
      version: "1",
      handlers: {
        elicitation: (request, extra) =>
          this.#route("elicitation/create", { ...request }, extra) as never,
        sampling: (params, extra) =>
          this.#route("sampling/createMessage", { ...params }, extra) as never,
        roots: async (extra) => (await this.#route("roots/list", {}, extra)).roots as never,
      },
      elicitationModes: ["form", "url"],
      requestTimeoutMs: this.#env.timing.callTimeoutMs,
      onLog: (message) => {
        const sink = this.#soleCall()?.sink;
        sink?.log[message.level](message.data, message.logger);
      },
      ...(this.#env.resourceUpdated && { onResourceUpdated: this.#env.resourceUpdated }),
      ...(this.#env.listChanged && {
        onToolsChanged: () => this.#env.listChanged?.("tools"),
        onPromptsChanged: () => this.#env.listChanged?.("prompts"),
        onResourcesChanged: () => this.#env.listChanged?.("resources"),
      }),
    };
    const manager = this.#env.manager;
    manager.add(this.#entry, {
      ...this.#target(),
      client,
      hooks: {
        created: (made) => this.#env.upstreamClient?.(made, this.upstream.name),
        ready: (made) => this.#ready(made),
        restarted: () => {
          this.#env.logger.info("upstream restarted", { upstream: this.upstream.name });
          this.#env.listChanged?.();
        },
      },
    });
    try {
      await manager.client(this.#entry);
    } catch (error) {
      await manager.remove(this.#entry);
      throw error;
    } finally {
      this.#started = true;
    }
  }

  /** Where the connection goes, with its limits: a URL with fixed headers, or a transport. */
  #target(): ManagedServer {
    const { url, transport, headers, fetch } = this.upstream;
    const limits = { timeoutMs: this.#env.timing.startTimeoutMs };
    if (transport) return { transport, connect: limits };
    const all: Record<string, string> = { ...headers };
    if (this.upstream.identityHeader && this.#subject !== undefined) {
      all[this.upstream.identityHeader] = this.#subject;
    }
    return { url: String(url), connect: { ...limits, headers: all, ...(fetch && { fetch }) } };
  }

  /** Each new connection (first and restarts), before calls may use it. */
  async #ready(client: McpClient): Promise<void> {
    // Every log message the upstream has: the gateway passes on what each caller asked for.
    // A 2026-07-28 upstream sends none without a level.
    if (client.serverCapabilities && "logging" in client.serverCapabilities) {
      await client
        .setLoggingLevel("debug", { timeoutMs: this.#env.timing.startTimeoutMs })
        .catch((error: unknown) =>
          this.#env.logger.warn("upstream refused a log level", {
            upstream: this.upstream.name,
            error,
          }),
        );
    }
    // A restarted upstream forgot what the gateway was subscribed to.
    await this.#subscriptions.restore(client);
    this.#client = client;
  }

  /** How many resources this connection is subscribed to upstream. */
  get subscriptions(): number {
    return this.#subscriptions.size;
  }

  /** Whether a caller still holds a subscription on this connection (it is not idle then). */
  get subscribed(): boolean {
    return this.#subscriptions.held;
  }

  /** Subscribes upstream to a resource's updates for `holder`, once per connection. */
  async subscribe(uri: string, holder: string): Promise<void> {
    this.lastUsed = this.#env.timing.clock();
    await this.#subscriptions.add(this.client, uri, holder);
  }

  /** `holder` is gone: lets go of every resource it held. */
  async releaseAll(holder: string): Promise<void> {
    await this.#subscriptions.releaseAll(this.state === "ready" ? this.#client : undefined, holder);
  }

  /** `holder` lets go of a resource; the last to do so ends the subscription upstream. */
  async release(uri: string, holder: string): Promise<void> {
    await this.#subscriptions.release(
      this.state === "ready" ? this.#client : undefined,
      uri,
      holder,
    );
  }

  /** The one call a question or log from the upstream can belong to, if only one runs. */
  #soleCall(): UpstreamCall | undefined {
    if (this.calls.size !== 1) return undefined;
    return this.calls.values().next().value;
  }

  #route(method: string, params: JsonObject, extra: HandlerExtra): Promise<JsonObject> {
    // A 2026-07-28 upstream's question comes in the result of the call it belongs to.
    const { callSignal, inputKey } = extra;
    const call =
      (callSignal && [...this.calls].find((c) => c.signal === callSignal)) || this.#soleCall();
    if (!call) {
      // With several callers on one connection, the question could reach the wrong person.
      throw new McpError(
        ErrorCode.InvalidRequest,
        "The gateway cannot tell which of its callers this request is for",
      );
    }
    return call.ask(method, params, inputKey);
  }

  /**
   * Forwards one request (tools/call, prompts/get, resources/read) and serves it to its end,
   * the upstream's questions included. `what` names the tool, prompt or resource.
   */
  async forward(
    ctx: Context,
    method: string,
    params: JsonObject,
    what: string,
  ): Promise<JsonObject> {
    const parking = this.#env.parking;
    this.lastUsed = this.#env.timing.clock();
    let call = parking.resume(ctx, what);
    if (!call) {
      call = this.#open(ctx, method, params);
      parking.claim(call, ctx);
    }
    try {
      return await parking.relay(call, ctx, what);
    } catch (error) {
      // The caller could not answer the upstream's question (say, it lacks the capability):
      // that, not how the upstream's client reported it, is what the caller is told.
      if (call.refusal) throw call.refusal;
      if (error instanceof McpError) throw error;
      this.#env.logger.warn("upstream request failed", { upstream: this.upstream.name, error });
      throw unavailable(this.upstream.name, this.state === "ready" ? "failed" : this.state);
    } finally {
      this.lastUsed = this.#env.timing.clock();
    }
  }

  #open(ctx: Context, method: string, params: JsonObject): UpstreamCall {
    const client = this.client;
    const call = new UpstreamCall(ctx);
    const capabilities = inputCapabilities(ctx);
    const options = {
      signal: call.signal,
      timeoutMs: this.#env.timing.callTimeoutMs,
      ...(capabilities && { capabilities }),
      onProgress: (p: { progress: number; total?: number; message?: string }) =>
        void call.sink.progress(p.progress, p.total, p.message),
    };
    const request =
      method === "tools/call"
        ? client.callTool(String(params.name), (params.arguments ?? {}) as JsonObject, {
            ...options,
            // Upstream, the call may become a task only if the caller could take one.
            tasks: takesTasks(ctx),
            onTask: () => call.becameTask(),
          })
        : client.request(method, params, options);
    this.calls.add(call);
    const done = () => this.calls.delete(call);
    request.then(done, done);
    call.follow(request as Promise<JsonObject>);
    return call;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#client = undefined;
    for (const call of this.calls) call.cancel("The upstream connection closed");
    await this.#env.manager.remove(this.#entry);
  }
}
