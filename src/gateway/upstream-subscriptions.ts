/**
 * The resource subscriptions one upstream connection holds for its callers, counted: a URI is
 * subscribed upstream when its first holder (a 2025 session, a 2026-07-28 listen stream) asks,
 * and unsubscribed when its last holder lets go.
 */
import type { McpClient } from "../client/client.ts";
import type { Logger } from "../util/log.ts";

/** Whether the upstream offers resource subscriptions at all. */
function offersSubscribe(client: McpClient): boolean {
  const resources = client.serverCapabilities?.resources;
  return (
    typeof resources === "object" &&
    resources !== null &&
    "subscribe" in resources &&
    resources.subscribe === true
  );
}

export class UpstreamSubscriptions {
  readonly #upstream: string;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  /** Who holds each URI: the subscription upstream lasts while anyone does. */
  readonly #holders = new Map<string, Set<string>>();
  /** URIs subscribed upstream (or asked of an upstream that offers no subscriptions). */
  readonly #subscribed = new Set<string>();

  constructor(upstream: string, logger: Logger, timeoutMs: number) {
    this.#upstream = upstream;
    this.#logger = logger;
    this.#timeoutMs = timeoutMs;
  }

  /** URIs subscribed upstream now. */
  get size(): number {
    return this.#subscribed.size;
  }

  /** Whether any caller still holds a subscription. */
  get held(): boolean {
    return this.#holders.size > 0;
  }

  /** `holder` wants `uri`'s updates; subscribes upstream on `client` for the first holder. */
  async add(client: McpClient, uri: string, holder: string): Promise<void> {
    let holders = this.#holders.get(uri);
    if (!holders) {
      holders = new Set();
      this.#holders.set(uri, holders);
    }
    holders.add(holder);
    if (this.#subscribed.has(uri)) return;
    this.#subscribed.add(uri);
    await this.#subscribeOn(client, uri);
  }

  /** `holder` no longer wants `uri`; unsubscribes upstream once nobody does. */
  async release(client: McpClient | undefined, uri: string, holder: string): Promise<void> {
    const holders = this.#holders.get(uri);
    if (!holders?.delete(holder) || holders.size > 0) return;
    this.#holders.delete(uri);
    if (!this.#subscribed.delete(uri) || !client || !offersSubscribe(client)) return;
    await client
      .unsubscribe(uri, { timeoutMs: this.#timeoutMs })
      .catch((error: unknown) =>
        this.#logger.warn("upstream unsubscribe failed", { upstream: this.#upstream, uri, error }),
      );
  }

  /** `holder` is gone (its session ended): lets go of everything it held. */
  async releaseAll(client: McpClient | undefined, holder: string): Promise<void> {
    const held = [...this.#holders].filter(([, holders]) => holders.has(holder));
    for (const [uri] of held) await this.release(client, uri, holder);
  }

  /** A new connection (a restart) forgot them all: subscribes it to each again. */
  async restore(client: McpClient): Promise<void> {
    for (const uri of this.#subscribed) await this.#subscribeOn(client, uri);
  }

  async #subscribeOn(client: McpClient, uri: string): Promise<void> {
    // An upstream that offers no subscriptions is not asked: its resources never update.
    if (!offersSubscribe(client)) return;
    try {
      await client.subscribe(uri, { timeoutMs: this.#timeoutMs });
    } catch (error) {
      this.#subscribed.delete(uri);
      this.#logger.warn("upstream subscription refused", { upstream: this.#upstream, uri, error });
    }
  }
}
