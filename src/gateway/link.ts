/**
 * One connection to an upstream: an McpClient over a fresh transport, restarted with backoff
 * when it ends unasked, and the requests forwarded through it.
 */
import { McpClient } from "../client/client.ts";
import { streamableHttp } from "../client/http.ts";
import type { HandlerExtra } from "../client/options.ts";
import type { ClientTransport } from "../client/transport.ts";
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
import { WatchedTransport } from "./watched.ts";

export type LinkState = "starting" | "ready" | "down" | "closed";

/** What a link needs from the gateway around it. */
export interface LinkEnv {
  timing: Timing;
  logger: Logger;
  parking: Parking;
  /** The upstream's tools, prompts or resources changed (shared links only). */
  listChanged?: (() => void) | undefined;
  /** Sees each new upstream client before it connects (GatewayOptions.upstreamClient). */
  upstreamClient?: ((client: McpClient, upstream: string) => void) | undefined;
  /** A resource the gateway subscribed to changed upstream (the upstream's own URI). */
  resourceUpdated?: ((uri: string) => void) | undefined;
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
  readonly calls = new Set<UpstreamCall>();
  state: LinkState = "starting";
  lastUsed: number;
  /** Restarts since the link was last ready. */
  #attempt = 0;
  /** How many times the upstream was restarted after a crash. */
  restarts = 0;
  #client: McpClient | undefined;
  /** Resource URIs subscribed to upstream, subscribed again after a restart. */
  readonly #subscribed = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(upstream: ResolvedUpstream, subject: string | undefined, env: LinkEnv) {
    this.upstream = upstream;
    this.#subject = subject;
    this.#env = env;
    this.lastUsed = env.timing.clock();
  }

  /** The connected client; throws when the upstream is not ready. */
  get client(): McpClient {
    if (this.state !== "ready" || !this.#client) throw unavailable(this.upstream.name, this.state);
    return this.#client;
  }

  /** Connects; rejects when the upstream cannot start or answer its handshake. */
  async start(): Promise<void> {
    this.state = "starting";
    const client = new McpClient({
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
        onToolsChanged: this.#env.listChanged,
        onPromptsChanged: this.#env.listChanged,
        onResourcesChanged: this.#env.listChanged,
      }),
    });
    this.#env.upstreamClient?.(client, this.upstream.name);
    const transport = new WatchedTransport(this.#transport(), () => {
      if (this.#client === client) this.#lost();
    });
    this.#client = client;
    try {
      await client.connect(transport, { timeoutMs: this.#env.timing.startTimeoutMs });
    } catch (error) {
      if (this.#client === client) this.#client = undefined;
      await client.close().catch(() => undefined);
      if (this.state === "starting") this.state = "down";
      throw error;
    }
    // close() may have run while the handshake was under way.
    if ((this.state as LinkState) === "closed") {
      await client.close().catch(() => undefined);
      return;
    }
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
    this.state = "ready";
    this.#attempt = 0;
    // A restarted upstream forgot what the gateway was subscribed to.
    for (const uri of this.#subscribed) await this.#subscribeOn(client, uri);
  }

  /** How many resources this connection is subscribed to upstream. */
  get subscriptions(): number {
    return this.#subscribed.size;
  }

  /**
   * Subscribes upstream to a resource's updates, once per connection. An upstream that does
   * not offer subscriptions is not asked (its resources never report updates).
   */
  async subscribe(uri: string): Promise<void> {
    this.lastUsed = this.#env.timing.clock();
    if (this.#subscribed.has(uri)) return;
    this.#subscribed.add(uri);
    await this.#subscribeOn(this.client, uri);
  }

  async #subscribeOn(client: McpClient, uri: string): Promise<void> {
    const resources = client.serverCapabilities?.resources;
    if (!resources || typeof resources !== "object" || !("subscribe" in resources)) return;
    if (resources.subscribe !== true) return;
    try {
      await client.subscribe(uri, { timeoutMs: this.#env.timing.startTimeoutMs });
    } catch (error) {
      this.#subscribed.delete(uri);
      this.#env.logger.warn("upstream subscription refused", {
        upstream: this.upstream.name,
        uri,
        error,
      });
    }
  }

  #transport(): ClientTransport {
    const { url, transport, headers, fetch } = this.upstream;
    if (transport) return transport();
    const all: Record<string, string> = { ...headers };
    if (this.upstream.identityHeader && this.#subject !== undefined) {
      all[this.upstream.identityHeader] = this.#subject;
    }
    return streamableHttp(String(url), { headers: all, ...(fetch && { fetch }) });
  }

  /** The connection ended unasked: mark down, restart later with backoff. */
  #lost(): void {
    if (this.state === "closed") return;
    this.state = "down";
    this.#client = undefined;
    const { restartInitialMs, restartMaxMs } = this.#env.timing;
    const delay = Math.min(restartMaxMs, restartInitialMs * 2 ** this.#attempt++);
    this.#env.logger.warn("upstream ended; restarting", {
      upstream: this.upstream.name,
      delay_ms: delay,
    });
    this.#schedule(delay);
  }

  #schedule(delay: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.state !== "down") return;
      this.start().then(
        () => {
          this.restarts++;
          this.#env.logger.info("upstream restarted", { upstream: this.upstream.name });
          this.#env.listChanged?.();
        },
        (error: unknown) => {
          if (this.state === "closed") return;
          const { restartInitialMs, restartMaxMs } = this.#env.timing;
          const next = Math.min(restartMaxMs, restartInitialMs * 2 ** this.#attempt++);
          this.#env.logger.warn("upstream restart failed", {
            upstream: this.upstream.name,
            error,
            delay_ms: next,
          });
          this.#schedule(next);
        },
      );
    }, delay);
    // A pending restart alone does not keep a process alive.
    (this.#timer as { unref?: () => void }).unref?.();
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
    this.state = "closed";
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    for (const call of this.calls) call.cancel("The upstream connection closed");
    await client?.close().catch(() => undefined);
  }
}
