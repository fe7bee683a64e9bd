/**
 * An upstream as the gateway holds it: one shared connection, or one per token subject
 * (opened on demand, closed when idle, capped).
 */
import type { Context } from "../mcp/context.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import { type AuthInfo, userOf } from "../mcp/peer.ts";
import type { JsonObject } from "../mcp/types.ts";
import { Link, type LinkEnv, type LinkState, unavailable } from "./link.ts";
import type { ResolvedUpstream } from "./options.ts";

/** An upstream's state as health checks and operators see it. */
export interface UpstreamStatus {
  name: string;
  isolation: "shared" | "per-user";
  /** The shared connection's state; "ready" for a per-user upstream that may open more. */
  state: LinkState;
  /** Open connections (per-user: one per subject). */
  instances: number;
  /** Restarts after a crash, over all connections. */
  restarts: number;
  /** Resources subscribed to upstream, over all connections. */
  subscriptions: number;
  /** Requests forwarded and not yet answered, over all connections. */
  inFlight: number;
  /** Shared: why the connection last failed or ended (kept while it is down or restarting). */
  error?: string;
  /** Shared: the last lines its process wrote to stderr, with `stderr: "capture"`. */
  stderr?: string;
}

/** The key of a caller's own connection: the token's issuer and subject (`userOf`). */
function subjectKey(auth: AuthInfo | undefined): { key: string; subject: string } {
  if (!auth?.subject) {
    throw new McpError(ErrorCode.InvalidRequest, "This upstream needs a caller with a subject");
  }
  return { key: userOf(auth), subject: auth.subject };
}

export class Upstream {
  readonly options: ResolvedUpstream;
  readonly #env: LinkEnv;
  /** The shared connection, or the per-user ones by subject key. */
  #shared: Link | undefined;
  readonly #users = new Map<string, Link>();
  readonly #opening = new Map<string, Promise<Link>>();
  /** Numbers the per-user connections' entries in the connection manager. */
  #serial = 0;

  constructor(options: ResolvedUpstream, env: LinkEnv) {
    this.options = options;
    this.#env = env;
  }

  get name(): string {
    return this.options.name;
  }

  /** The published name of one of its tools or prompts: `<name>_<tool>`, or as it is. */
  nameOf(original: string): string {
    return this.options.namespace === false ? original : `${this.name}_${original}`;
  }

  /** The published URI (or URI template) of one of its resources: `<name>+<uri>`, or as it is. */
  uriOf(original: string): string {
    return this.options.namespace === false ? original : `${this.name}+${original}`;
  }

  /** The upstream's own URI for a published one, or undefined when it is not this upstream's. */
  originalUri(published: string): string | undefined {
    if (this.options.namespace === false) return published;
    const prefix = `${this.name}+`;
    return published.startsWith(prefix) ? published.slice(prefix.length) : undefined;
  }

  /**
   * Starts the upstream; rejects when it cannot start. A per-user upstream is started once to
   * learn what it offers (`probe`), then closed by the caller.
   */
  async start(): Promise<Link> {
    const shared = this.options.isolation === "shared";
    const link = new Link(
      this.options,
      undefined,
      // The per-user probe serves nobody: it announces nothing.
      shared ? this.#env : { ...this.#env, listChanged: undefined, resourceUpdated: undefined },
      shared ? this.name : this.#entryName(),
    );
    await link.start();
    if (this.options.isolation === "shared") this.#shared = link;
    return link;
  }

  /** Forwards a request on the caller's connection. */
  async forward(ctx: Context, method: string, params: JsonObject, what: string) {
    const link = await this.#linkFor(ctx.auth);
    return link.forward(ctx, method, params, what);
  }

  /** Subscribes the caller's connection to updates of one of the upstream's resources. */
  async subscribe(auth: AuthInfo | undefined, uri: string, holder: string): Promise<void> {
    const link = await this.#linkFor(auth);
    await link.subscribe(uri, holder);
  }

  /** `holder` (a 2025 session that ended) lets go of everything it held, on every connection. */
  async releaseAll(holder: string): Promise<void> {
    const links = [...(this.#shared ? [this.#shared] : []), ...this.#users.values()];
    await Promise.all(links.map((link) => link.releaseAll(holder)));
  }

  /** `holder` lets go of a resource on the caller's connection, if that connection is open. */
  async release(auth: AuthInfo | undefined, uri: string, holder: string): Promise<void> {
    const link =
      this.options.isolation === "shared"
        ? this.#shared
        : auth?.subject
          ? this.#users.get(userOf(auth))
          : undefined;
    await link?.release(uri, holder);
  }

  async #linkFor(auth: AuthInfo | undefined): Promise<Link> {
    if (this.options.isolation === "shared") {
      if (!this.#shared) throw unavailable(this.name, "down");
      return this.#shared;
    }
    this.reap();
    const { key, subject } = subjectKey(auth);
    const open = this.#users.get(key);
    if (open) return open;
    const opening = this.#opening.get(key);
    if (opening) return opening;
    if (this.#users.size + this.#opening.size >= this.options.maxInstances) {
      throw new McpError(
        ErrorCode.ConnectionClosed,
        `The upstream "${this.name}" has no room for another user now; try again later`,
        { upstream: this.name },
      );
    }
    const link = new Link(this.options, subject, this.#userEnv(key), this.#entryName());
    const started = link.start().then(
      () => {
        this.#opening.delete(key);
        this.#users.set(key, link);
        return link;
      },
      (error: unknown) => {
        this.#opening.delete(key);
        this.#env.logger.warn("per-user upstream failed to start", {
          upstream: this.name,
          error,
        });
        throw unavailable(this.name, "down");
      },
    );
    this.#opening.set(key, started);
    return started;
  }

  /** What one user's connection announces reaches that user alone, never another. */
  #userEnv(user: string): LinkEnv {
    const { resourceUpdated, userListChanged } = this.#env;
    return {
      ...this.#env,
      resourceUpdated: resourceUpdated && ((uri) => resourceUpdated(uri, user)),
      // After a restart (no list named) the shared catalog stands; nothing to announce.
      listChanged: userListChanged && ((list) => list && userListChanged(user, list)),
    };
  }

  /** A per-user connection's name in the connection manager (never a subject: names are public). */
  #entryName(): string {
    return `${this.name}.user-${++this.#serial}`;
  }

  /** Closes per-user connections idle for longer than `idleMs` (by the gateway's clock). */
  reap(): number {
    const now = this.#env.timing.clock();
    let closed = 0;
    for (const [key, link] of this.#users) {
      // A connection someone still listens on is not idle.
      if (link.calls.size || link.subscribed || now - link.lastUsed < this.options.idleMs) continue;
      this.#users.delete(key);
      closed++;
      void link.close();
    }
    return closed;
  }

  status(): UpstreamStatus {
    const links = this.#shared ? [this.#shared] : [...this.#users.values()];
    return {
      name: this.name,
      isolation: this.options.isolation,
      state: this.#shared ? this.#shared.state : "ready",
      instances: links.filter((link) => link.state !== "closed").length,
      restarts: links.reduce((sum, link) => sum + link.restarts, 0),
      subscriptions: links.reduce((sum, link) => sum + link.subscriptions, 0),
      inFlight: links.reduce((sum, link) => sum + link.calls.size, 0),
      ...this.#shared?.diagnostics,
    };
  }

  /** The shared connection's client, to list what it offers. */
  get shared(): Link | undefined {
    return this.#shared;
  }

  async close(): Promise<void> {
    const links = [...(this.#shared ? [this.#shared] : []), ...this.#users.values()];
    this.#shared = undefined;
    this.#users.clear();
    await Promise.all(links.map((link) => link.close()));
  }
}
