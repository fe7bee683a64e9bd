import type { JsonRpcResponse, RequestId } from "../mcp/jsonrpc.ts";
import type { Store } from "../storage/store.ts";
import { toHex } from "../util/bytes.ts";

/** A request being run by `owner`, who renews `leaseUntil` (epoch ms) while it runs. */
export interface Running {
  state: "running";
  owner: string;
  leaseUntil: number;
}

/** A request answered (`reply`), or cancelled before it finished (`reply` null: no answer). */
export interface Done {
  state: "done";
  reply: JsonRpcResponse | null;
}

export type Claim = Running | Done;

/**
 * The Store records that make at-least-once delivery run each request at most once: one
 * record per request, claimed with `add` (one consumer wins), renewed and finished with
 * compare-and-set, so a consumer whose lease ran out cannot overwrite the one that took over.
 */
export class Claims {
  readonly #store: Store;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(store: Store, prefix: string, ttlMs: number) {
    this.#store = store;
    this.#prefix = prefix;
    this.#ttlMs = ttlMs;
  }

  /**
   * The key of one request. A request is named by where its answer goes, who sent it and its
   * id, so one caller can neither read nor pre-empt another caller's answer by reusing an id.
   */
  async key(replyTo: string, principal: string, id: RequestId): Promise<string> {
    const name = JSON.stringify([replyTo, principal, id]);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name));
    return toHex(digest);
  }

  /** Claims a request nobody claimed yet; false when someone did. */
  claim(key: string, running: Running): Promise<boolean> {
    return this.#store.add(`${this.#prefix}req:${key}`, running, { ttlMs: this.#ttlMs });
  }

  get(key: string): Promise<Claim | undefined> {
    return this.#store.get<Claim>(`${this.#prefix}req:${key}`);
  }

  /** Replaces `current` with `next` when nobody changed it meanwhile. */
  replace(key: string, current: Claim, next: Claim): Promise<boolean> {
    return this.#store.compareAndSet(`${this.#prefix}req:${key}`, current, next, {
      ttlMs: this.#ttlMs,
    });
  }

  /** Marks a request cancelled, for whichever consumer runs it (or will). */
  cancel(key: string, reason: string): Promise<void> {
    return this.#store.set(`${this.#prefix}cancel:${key}`, reason, { ttlMs: this.#ttlMs });
  }

  cancelled(key: string): Promise<string | undefined> {
    return this.#store.get<string>(`${this.#prefix}cancel:${key}`);
  }
}
