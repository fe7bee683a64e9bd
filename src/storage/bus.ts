import { UnavailableError } from "../util/errors.ts";

/**
 * Carries messages between the instances that serve one MCP endpoint: a client's answer to
 * the instance whose handler awaits it, cancellations, change notifications, and the events
 * of a stream resumed elsewhere. Delivery is at most once and in publish order per publisher;
 * a message published while a subscriber is disconnected may be lost.
 */
export interface Bus {
  /** Sends a message to every current subscriber of a channel (the publisher's own included). */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Calls `handler` with every message on a channel until the returned function is called.
   * Registration is immediate; an implementation over the network may start delivering a
   * little later (see `ready`).
   */
  subscribe(channel: string, handler: (message: string) => void): () => void;
  /** Resolves once every subscription made so far delivers messages. */
  ready?(): Promise<void>;
}

/** Raised by a Bus whose engine cannot be reached; the transport answers 503. */
export class BusUnavailableError extends UnavailableError {
  declare readonly code: "ERR_BUS_UNAVAILABLE";

  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_BUS_UNAVAILABLE", message, options);
    this.name = "BusUnavailableError";
  }
}

/**
 * A Bus inside one process: for one instance, or several transports in one process sharing
 * a Store (tests). Delivers on a later microtask, as a networked bus would never deliver
 * inside `publish`.
 */
export function memoryBus(): Bus {
  const channels = new Map<string, Set<(message: string) => void>>();
  return {
    async publish(channel, message) {
      const handlers = channels.get(channel);
      if (!handlers) return;
      for (const handler of [...handlers]) queueMicrotask(() => handler(message));
    },
    subscribe(channel, handler) {
      let handlers = channels.get(channel);
      if (!handlers) channels.set(channel, (handlers = new Set()));
      // A wrapper per call, so the same function subscribed twice is two subscriptions.
      const own = (message: string) => handler(message);
      handlers.add(own);
      return () => {
        handlers.delete(own);
        if (handlers.size === 0) channels.delete(channel);
      };
    },
    async ready() {},
  };
}
