import { isObject } from "./content.ts";
import type { EventSource, SubscriptionFilter } from "./events.ts";
import {
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  success,
} from "./jsonrpc.ts";
import { META } from "./modern.ts";
import type { JsonObject } from "./types.ts";

/** What a `subscriptions/listen` stream needs from the server. */
export interface ListenHost {
  subscribe(
    requested: SubscriptionFilter,
    send: (message: JsonRpcNotification) => void,
    listen?: EventSource,
  ): { accepted: SubscriptionFilter; stop: () => void };
}

/** One open `subscriptions/listen` request (2026-07-28), whatever carries its stream. */
export interface Subscription {
  /** Stops delivering; nothing more is sent. */
  stop(): void;
  /** Ends it gracefully: the completion result, then nothing more. */
  complete(): void;
}

/**
 * Opens a `subscriptions/listen` stream: the acknowledgement first (the filter the server
 * agreed to), then each notification asked for, every message tagged with the request's id.
 */
export function openSubscription(
  host: ListenHost,
  request: JsonRpcRequest,
  send: (message: JsonRpcMessage) => void,
  listen?: EventSource,
): Subscription {
  const params = request.params ?? {};
  const filter = (isObject(params.notifications) ? params.notifications : {}) as SubscriptionFilter;
  const tag = (notification: JsonRpcNotification): JsonRpcNotification => ({
    ...notification,
    params: {
      ...notification.params,
      _meta: {
        ...(isObject(notification.params?._meta) ? notification.params._meta : {}),
        [META.subscriptionId]: request.id,
      },
    },
  });
  const { accepted, stop } = host.subscribe(
    filter,
    (notification) => send(tag(notification)),
    listen,
  );
  send(
    tag({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: accepted as JsonObject },
    }),
  );
  return {
    stop,
    complete() {
      stop();
      send(
        success(request.id, {
          resultType: "complete",
          _meta: { [META.subscriptionId]: request.id },
        }),
      );
    },
  };
}
