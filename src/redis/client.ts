import { createHash } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";

/**
 * The client this adapter drives: ioredis, chosen over node-redis because it has, in one
 * small package, everything the failure rules here rely on: `commandTimeout`, a switchable
 * offline queue (`enableOfflineQueue: false`, so a command fails at once while disconnected
 * instead of waiting and running late), `maxRetriesPerRequest` (no silent re-send of a
 * command whose reply was lost), reconnection by default, and the same interface for a
 * single server and a cluster.
 */
export type RedisClient = Redis;

/** ioredis options, less the reply mapping: the adapters read replies in the default form. */
export type RedisClientOptions = Omit<RedisOptions, "replyMapping">;

/**
 * Client options for a store that must fail fast and never run a command late: nothing is
 * queued while disconnected, nothing is re-sent after a dropped connection, every command
 * has a deadline, and the client keeps reconnecting in the background.
 */
export const RECOMMENDED_CLIENT_OPTIONS: RedisClientOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 2_000,
  connectTimeout: 2_000,
  // Reconnect quickly at first, then every 2 s, forever: the store recovers on its own.
  retryStrategy: (attempt) => Math.min(50 * attempt, 2_000),
};

/**
 * A Redis client for `redisStore`, `redisBus` and `redisEventStore`, with
 * `RECOMMENDED_CLIENT_OPTIONS` under yours.
 */
export function connectRedis(url: string, options: RedisClientOptions = {}): RedisClient {
  return new Redis(url, { ...RECOMMENDED_CLIENT_OPTIONS, ...options });
}

/** Reply errors that mean "not now" (a busy, loading or failing-over server), not a bug. */
const TRANSIENT_REPLY =
  /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF|OOM)\b/;

export type UnavailableError = new (message: string, options?: { cause?: unknown }) => Error;

/**
 * Runs commands with a deadline and turns "Redis cannot be reached" into `unavailable`
 * errors; a command that Redis refused as wrong (a bug) keeps its own error.
 */
export class Commands {
  readonly client: RedisClient;
  readonly #timeoutMs: number;
  readonly #unavailable: UnavailableError;
  #ready: Promise<void> | undefined;

  constructor(client: RedisClient, timeoutMs: number, unavailable: UnavailableError) {
    this.client = client;
    this.#timeoutMs = timeoutMs;
    this.#unavailable = unavailable;
  }

  async run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.client.status !== "ready") await this.#whenReady();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new this.#unavailable(`Redis did not answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    const sent = command(this.client);
    // A command that loses the race may still fail later; that is already answered.
    sent.catch(() => {});
    try {
      return await Promise.race([sent, deadline]);
    } catch (error) {
      throw this.#classify(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits, up to the deadline, for a client that is connecting or reconnecting. Commands are
   * not handed to a client that is not ready: queued, they could run after we gave up.
   */
  #whenReady(): Promise<void> {
    const client = this.client;
    if (client.status === "end") {
      return Promise.reject(new this.#unavailable("The Redis connection was closed"));
    }
    if (client.status === "wait") client.connect().catch(() => {});
    this.#ready ??= new Promise<void>((resolve) => {
      client.once("ready", () => {
        this.#ready = undefined;
        resolve();
      });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new this.#unavailable(`Redis is not connected (${client.status})`)),
          this.#timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  #classify(error: unknown): Error {
    if (error instanceof this.#unavailable) return error;
    if (
      error instanceof Error &&
      error.name === "ReplyError" &&
      !TRANSIENT_REPLY.test(error.message)
    ) {
      return error;
    }
    const message = error instanceof Error ? error.message : String(error);
    return new this.#unavailable(`Redis cannot be reached: ${message}`, { cause: error });
  }
}

/** A Lua script run by its SHA1, loaded on first use and again after a server restart. */
export class Script {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return client.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}
