/**
 * Discovery results kept between connections: a server's protected resource metadata and its
 * authorization server's metadata, each for as long as its HTTP caching headers allow (capped),
 * in a Store, so every authorizer of a process (or, over a shared Store, of several) finds
 * where tokens come from without fetching it again, and a stored token goes out at once.
 */
import type { AuthorizationServer } from "oauth4webapi";
import { memoryStore } from "../../storage/memory.ts";
import type { Store } from "../../storage/store.ts";
import type { Clock } from "../../util/clock.ts";

/** RFC 9728 protected resource metadata, as far as the authorizer uses it. */
export interface ResourceMetadata {
  /** The resource identifier, exactly as published (it is sent back as `resource`). */
  resource: string;
  authorizationServers: string[];
  scopesSupported?: string[];
  /** Where it was found. */
  url: string;
}

export interface DiscoveryCacheOptions {
  /** Where entries live. Default: memory (this process). */
  store?: Store;
  /** The longest an entry is kept, whatever its headers say. Default 10 min. */
  maxAgeMs?: number;
  /** The Store's clock, for a memory store made here. */
  clock?: Clock;
}

/** Keys longer than this are not cached (Store keys stop at 512 bytes). */
const MAX_KEY = 480;

/**
 * How long a reply may be reused: `no-store` and `no-cache` never, `max-age` up to the cap,
 * and the cap when the server says nothing.
 */
export function freshFor(headers: Headers, capMs: number): number {
  const control = headers.get("cache-control")?.toLowerCase() ?? "";
  if (/(^|[\s,])(no-store|no-cache)\b/.test(control)) return 0;
  const age = /(?:^|[\s,])max-age\s*=\s*"?(\d+)/.exec(control);
  if (age) return Math.min(Number(age[1]) * 1000, capMs);
  return capMs;
}

/** A cache of discovery results; make one with `discoveryCache()`. */
export class DiscoveryCache {
  readonly #store: Store;
  readonly maxAgeMs: number;

  constructor(options: DiscoveryCacheOptions = {}) {
    const maxAgeMs = options.maxAgeMs ?? 600_000;
    if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
      throw new TypeError("maxAgeMs must be a finite number of at least 0");
    }
    this.maxAgeMs = maxAgeMs;
    this.#store =
      options.store ??
      memoryStore({ maxEntries: 10_000, ...(options.clock && { clock: options.clock }) });
  }

  /** The resource metadata last found for the MCP server at `serverUrl`. */
  resource(serverUrl: string): Promise<ResourceMetadata | undefined> {
    return this.#get<ResourceMetadata>(`prm:${serverUrl}`);
  }

  putResource(serverUrl: string, metadata: ResourceMetadata, headers: Headers): Promise<void> {
    return this.#put(`prm:${serverUrl}`, metadata, headers);
  }

  /** An authorization server's metadata, by issuer. */
  server(issuer: string): Promise<AuthorizationServer | undefined> {
    return this.#get<AuthorizationServer>(`as:${issuer}`);
  }

  putServer(issuer: string, metadata: AuthorizationServer, headers: Headers): Promise<void> {
    return this.#put(`as:${issuer}`, metadata, headers);
  }

  /** Forgets what was found for a server (its token was refused: look again). */
  async forget(serverUrl: string): Promise<void> {
    const key = this.#key(`prm:${serverUrl}`);
    if (key) await this.#store.delete(key);
  }

  #key(name: string): string | undefined {
    const key = `discovery:${name}`;
    return key.length > MAX_KEY ? undefined : key;
  }

  async #get<T>(name: string): Promise<T | undefined> {
    const key = this.#key(name);
    if (!key) return undefined;
    try {
      return await this.#store.get<T>(key);
    } catch {
      // A cache that cannot answer is a cache miss: discovery goes to the network.
      return undefined;
    }
  }

  async #put(name: string, value: unknown, headers: Headers): Promise<void> {
    const key = this.#key(name);
    const ttlMs = freshFor(headers, this.maxAgeMs);
    if (!key || ttlMs <= 0) return;
    await this.#store.set(key, value, { ttlMs }).catch(() => undefined);
  }
}

/** A discovery cache; without a store, in this process's memory. */
export function discoveryCache(options: DiscoveryCacheOptions = {}): DiscoveryCache {
  return new DiscoveryCache(options);
}

/** The cache every OAuthAuthorizer of this process shares unless given its own. */
export const processDiscoveryCache: DiscoveryCache = new DiscoveryCache();
