import type { Logger } from "../util/log.ts";
import { isObject } from "./content.ts";
import { type Dressing, eraOf } from "./era/index.ts";
import type { EventSource, SubscriptionFilter } from "./events.ts";
import { unexpectedFailure } from "./failures.ts";
import {
  failure,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  success,
} from "./jsonrpc.ts";
import {
  type ErrorHandler,
  MiddlewareContext,
  mapError,
  type PipelineStep,
  runPipeline,
} from "./middleware.ts";
import { META } from "./modern.ts";
import type { Exchange } from "./peer.ts";
import type { JsonObject } from "./types.ts";

/** What a `subscriptions/listen` stream needs from the server. */
export interface ListenHost {
  subscribe(
    requested: SubscriptionFilter,
    send: (message: JsonRpcNotification) => void,
    listen?: EventSource,
    exchange?: Exchange,
  ): { accepted: SubscriptionFilter; stop: () => void };
}

/** One open `subscriptions/listen` request (2026-07-28), whatever carries its stream. */
export interface Subscription {
  /** The filter the server agreed to, as its acknowledgement says. */
  readonly accepted: SubscriptionFilter;
  /** Stops delivering; nothing more is sent. */
  stop(): void;
  /** Ends it gracefully: the completion result, then nothing more. */
  complete(): void;
}

/**
 * Opens a `subscriptions/listen` stream: the acknowledgement first (the filter the server
 * agreed to), then each notification asked for, every message tagged with the request's id.
 * Updates of the resources at `hidden` (what the caller's access policy hides) are not sent.
 */
export function openSubscription(
  host: ListenHost,
  request: JsonRpcRequest,
  send: (message: JsonRpcMessage) => void,
  listen?: EventSource,
  hidden: ReadonlySet<string> = new Set(),
  exchange?: Exchange,
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
    (notification) => {
      const uri = notification.params?.uri;
      if (typeof uri === "string" && hidden.has(uri)) return;
      send(tag(notification));
    },
    listen,
    exchange,
  );
  send(
    tag({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: accepted as JsonObject },
    }),
  );
  return {
    accepted,
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

/**
 * Opens a `subscriptions/listen` stream inside the middleware (`around` runs them with the
 * opening as their core): `next()` opens it and resolves to `{ notifications }`, the filter
 * acknowledged. Nothing reaches `send` until every middleware let it through; whatever is
 * thrown, before or after `next()`, stops it and is rethrown (the listener gets the error,
 * no stream). Resolves to the subscription, or to what a middleware answered instead of
 * calling `next()` (then nothing was opened). What a middleware returns after `next()` is
 * not sent: the acknowledgement already says what the stream carries.
 */
export async function admitSubscription(
  host: ListenHost,
  request: JsonRpcRequest,
  send: (message: JsonRpcMessage) => void,
  listen: EventSource | undefined,
  around: (open: () => Promise<JsonObject>) => Promise<JsonObject>,
  hidden?: ReadonlySet<string>,
  exchange?: Exchange,
): Promise<{ opened: Subscription } | { answer: JsonObject }> {
  const held: JsonRpcMessage[] = [];
  let admitted = false;
  let opened: Subscription | undefined;
  const hold = (message: JsonRpcMessage) => {
    if (admitted) send(message);
    else held.push(message);
  };
  let answer: JsonObject;
  try {
    answer = await around(async () => {
      opened = openSubscription(host, request, hold, listen, hidden, exchange);
      return { notifications: opened.accepted as JsonObject };
    });
  } catch (error) {
    opened?.stop();
    throw error;
  }
  if (!opened) return { answer };
  admitted = true;
  for (const message of held) send(message);
  return { opened };
}

/** The middleware a server runs around every request, and its error mapping. */
export interface Pipeline {
  readonly middleware: readonly PipelineStep[];
  readonly onError: ErrorHandler | undefined;
}

/** A `subscriptions/listen` request and where its stream goes. */
export interface ListenRequest {
  request: JsonRpcRequest;
  exchange: Exchange;
  send: (message: JsonRpcMessage) => void;
  /** Where events come from; default the server's own. */
  listen?: EventSource | undefined;
  /** Resources whose updates the caller's access policy hides. */
  hidden?: ReadonlySet<string>;
}

/**
 * Opens a `subscriptions/listen` stream through the server's middleware (`admitSubscription`):
 * the open subscription, or the response to send instead — an error mapped by `onError` and
 * dressed by the era as any request's, or a middleware's own answer.
 */
export async function listenThrough(
  host: ListenHost & { readonly logger: Logger },
  pipeline: Pipeline,
  dressing: Dressing,
  { request, exchange, send, listen, hidden }: ListenRequest,
): Promise<Subscription | JsonRpcResponse> {
  const era = eraOf(exchange.peer.protocolVersion);
  const info = new MiddlewareContext(request, exchange);
  try {
    const admitted = await admitSubscription(
      host,
      request,
      send,
      listen,
      (open) => runPipeline(pipeline.middleware, info, open),
      hidden,
      exchange,
    );
    if ("opened" in admitted) return admitted.opened;
    const authenticated = exchange.auth !== undefined;
    return success(
      request.id,
      era.result(request.method, info.params, admitted.answer, dressing, authenticated),
    );
  } catch (error) {
    const fallback = (thrown: unknown) => unexpectedFailure(host.logger, thrown, request.method);
    return failure(request.id, era.error(await mapError(pipeline.onError, error, info, fallback)));
  }
}
