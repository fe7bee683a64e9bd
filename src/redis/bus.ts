import { type Bus, BusUnavailableError } from "../storage/bus.ts";
import { Commands, type RedisClient } from "./client.ts";

export interface RedisBusOptions {
  /** Publishes with this client; subscribes on a duplicate of it (Redis needs its own connection). */
  client: RedisClient;
  /** Prepended to every channel. Default "portcullis:". Instances of one endpoint share it. */
  prefix?: string;
  /** How long a publish may take before it fails with BusUnavailableError. Default 2 s. */
  timeoutMs?: number;
}

/** A Bus over Redis pub/sub, for instances in several processes or machines. */
export interface RedisBus extends Bus {
  ready(): Promise<void>;
  /** Closes the subscriber connection (the publishing client stays yours). */
  close(): Promise<void>;
}

/**
 * Redis pub/sub as the Bus between instances. Subscriptions live on a dedicated connection
 * that queues its SUBSCRIBE commands while Redis is away and subscribes again when it is
 * back; publishing fails fast like the store.
 */
export function redisBus(options: RedisBusOptions): RedisBus {
  const prefix = options.prefix ?? "portcullis:";
  const commands = new Commands(options.client, options.timeoutMs ?? 2_000, BusUnavailableError);
  const handlers = new Map<string, Set<(message: string) => void>>();
  const pending = new Set<Promise<unknown>>();
  let subscriber: RedisClient | undefined;

  const connection = (): RedisClient => {
    if (!subscriber) {
      // Subscribing may wait for Redis indefinitely: the subscription is wanted whenever it
      // comes back, unlike a command that someone is waiting on.
      subscriber = options.client.duplicate({
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        commandTimeout: undefined,
        autoResubscribe: true,
      });
      subscriber.on("error", () => {
        // Reconnection is automatic; a failed attempt has nothing more to say.
      });
      subscriber.on("message", (channel: string, message: string) => {
        for (const handler of handlers.get(channel) ?? []) {
          try {
            handler(message);
          } catch {
            // One bad handler must not keep the message from the others.
          }
        }
      });
    }
    return subscriber;
  };

  const track = (command: Promise<unknown>) => {
    const settled = command.catch(() => undefined);
    pending.add(settled);
    void settled.then(() => pending.delete(settled));
  };

  return {
    async publish(channel, message) {
      await commands.run((redis) => redis.publish(prefix + channel, message));
    },
    subscribe(channel, handler) {
      const name = prefix + channel;
      let set = handlers.get(name);
      if (!set) {
        handlers.set(name, (set = new Set()));
        track(connection().subscribe(name));
      }
      const own = (message: string) => handler(message);
      set.add(own);
      return () => {
        set.delete(own);
        if (set.size > 0 || handlers.get(name) !== set) return;
        handlers.delete(name);
        if (subscriber) track(subscriber.unsubscribe(name));
      };
    },
    async ready() {
      while (pending.size) await Promise.all(pending);
    },
    async close() {
      const connection = subscriber;
      subscriber = undefined;
      handlers.clear();
      if (connection) await connection.quit().catch(() => connection.disconnect());
    },
  };
}
