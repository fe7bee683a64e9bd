import { MAX_SUBSCRIPTIONS } from "./access.ts";
import type { JsonRpcNotification } from "./jsonrpc.ts";

/** Something a transport must pass on to connected clients. */
export type ServerEvent =
  /** With `user` (a `userOf` key), only that user's sessions and listeners hear it. */
  | { type: "list_changed"; list: "tools" | "resources" | "prompts"; user?: string }
  | { type: "resource_updated"; uri: string; user?: string }
  /**
   * An extension's notification for `subscriptions/listen` streams (2026-07-28) that asked
   * for `topic` and whose caller is `owner` (the principal; "" for anonymous callers).
   * Never sent to 2025 sessions.
   */
  | { type: "extension"; topic: string; owner: string; notification: JsonRpcNotification };

/**
 * What the extensions add to one subscription: the filter entries they agreed to (merged
 * into the acknowledgement), the topics of their events it receives, and whose they are.
 */
export interface ListenExtras {
  accepted: Record<string, unknown>;
  topics: ReadonlySet<string>;
  owner: string;
}

/** Whether an event reaches a caller whose `userOf` key is `user`: events for one user only theirs. */
export function reaches(event: ServerEvent, user: string | undefined): boolean {
  if (event.type === "extension" || event.user === undefined) return true;
  return event.user !== "" && event.user === user;
}

/** Which change notifications a `subscriptions/listen` stream carries. */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
  /** What extensions add (the tasks extension: `taskIds`). */
  [key: string]: unknown;
}

/** Subscribes a listener to server events; returns the function that stops it. */
export type EventSource = (listener: (event: ServerEvent) => void) => () => void;

const LIST_CHANGED = {
  tools: "notifications/tools/list_changed",
  resources: "notifications/resources/list_changed",
  prompts: "notifications/prompts/list_changed",
} as const;

/** The wire notification for a server event. */
export function eventNotification(event: ServerEvent): JsonRpcNotification {
  if (event.type === "extension") return event.notification;
  return event.type === "list_changed"
    ? { jsonrpc: "2.0", method: LIST_CHANGED[event.list] }
    : { jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: event.uri } };
}

/**
 * Starts a 2026-07-28 subscription on `listen`: the filter the server agrees to (what it can
 * deliver), and the function that ends it. `send` receives each matching notification.
 */
export function subscribe(
  requested: SubscriptionFilter,
  send: (message: JsonRpcNotification) => void,
  listen: EventSource,
  extras?: ListenExtras,
  user?: string,
): { accepted: SubscriptionFilter; stop: () => void } {
  const accepted: SubscriptionFilter = { ...extras?.accepted };
  if (requested.toolsListChanged === true) accepted.toolsListChanged = true;
  if (requested.promptsListChanged === true) accepted.promptsListChanged = true;
  if (requested.resourcesListChanged === true) accepted.resourcesListChanged = true;
  const uris = Array.isArray(requested.resourceSubscriptions)
    ? requested.resourceSubscriptions
        .filter((uri): uri is string => typeof uri === "string")
        .slice(0, MAX_SUBSCRIPTIONS)
    : undefined;
  if (uris) accepted.resourceSubscriptions = uris;
  const watched = new Set(uris);
  const wanted = {
    tools: accepted.toolsListChanged === true,
    prompts: accepted.promptsListChanged === true,
    resources: accepted.resourcesListChanged === true,
  };
  const stop = listen((event) => {
    if (!reaches(event, user)) return;
    if (event.type === "extension") {
      // Only the caller the event belongs to, and only for what it asked.
      if (extras?.topics.has(event.topic) && event.owner === extras.owner) send(event.notification);
    } else if (event.type === "list_changed" ? wanted[event.list] : watched.has(event.uri)) {
      send(eventNotification(event));
    }
  });
  return { accepted, stop };
}

/** A server's event listeners; registry changes in one burst become one event per list. */
export class ServerEvents {
  readonly #listeners = new Set<(event: ServerEvent) => void>();
  readonly #pendingLists = new Set<"tools" | "resources" | "prompts">();

  listen(listener: (event: ServerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: ServerEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Coalesces a burst of registry changes into one notification per list. */
  listChanged(list: "tools" | "resources" | "prompts"): void {
    if (this.#listeners.size === 0 || this.#pendingLists.has(list)) return;
    this.#pendingLists.add(list);
    queueMicrotask(() => {
      this.#pendingLists.delete(list);
      this.emit({ type: "list_changed", list });
    });
  }
}
