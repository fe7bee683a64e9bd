import type { Context as HonoContext } from "hono";
import type { JsonRpcNotification, RequestId } from "./jsonrpc.ts";
import type { ClientCapabilities, Implementation, JsonObject, LoggingLevel } from "./types.ts";

/**
 * Who stands behind a request: a signed-in user, or a client acting for itself alone (a token
 * from the client credentials grant, with no user involved).
 */
export type CallerKind = "user" | "client";

/** Who the caller is, once a resource server has checked its bearer token. */
export interface AuthInfo {
  /**
   * Whether a user stands behind the token. Tools, resources and prompts refuse "client"
   * callers unless registered with `userRequired: false`.
   */
  kind: CallerKind;
  /** The token's `sub`: the user, or for a "client" caller usually the client itself. */
  subject?: string;
  clientId?: string;
  scopes: readonly string[];
  /** Unix seconds. */
  expiresAt?: number;
  claims?: JsonObject;
  /**
   * The caller's tokens at the identity provider they signed in with, where the authorization
   * server keeps them (`upstreamOAuth({ keepTokens: true })`); reached as `ctx.upstream`.
   */
  upstream?: UpstreamAccess;
}

/** A caller's tokens at an upstream provider, as a handler reaches them (`ctx.upstream`). */
export interface UpstreamAccess {
  /**
   * A valid upstream access token for the caller's grant: unsealed on demand, refreshed when
   * close to expiry. Rejects with `AuthorizationRequired` when the provider refused the
   * refresh or the tokens are gone: the client is then asked to authorize again.
   */
  token(): Promise<string>;
}

/**
 * Who stands behind a request, as one opaque string: the caller's kind (user or client alone),
 * the token's issuer (its `iss` claim), subject and client. What a caller creates (a 2025
 * session, a task, a multi round-trip request state) belongs to this, so another client of the
 * same user, the same subject at another issuer, or a client sharing a user's subject cannot
 * use it. "" for an anonymous caller.
 */
export function principalOf(auth: AuthInfo | undefined): string {
  if (!auth) return "";
  const issuer = typeof auth.claims?.iss === "string" ? auth.claims.iss : "";
  return JSON.stringify([auth.kind, issuer, auth.subject ?? "", auth.clientId ?? ""]);
}

/**
 * Who a caller is across their clients: the token's issuer and subject, as one opaque string;
 * "" without a subject. An announcement for one user (`McpServer.resourceUpdated` with `user`)
 * reaches only the sessions and listeners of callers with this key.
 */
export function userOf(auth: AuthInfo | undefined): string {
  if (!auth?.subject) return "";
  const issuer = typeof auth.claims?.iss === "string" ? auth.claims.iss : "";
  return JSON.stringify([issuer, auth.subject]);
}

/** The `userOf` key of a `principalOf` string. */
export function userOfPrincipal(principal: string): string {
  if (principal === "") return "";
  const [, issuer, subject] = JSON.parse(principal) as [string, string, string, string];
  return subject ? JSON.stringify([issuer, subject]) : "";
}

/** Sends one server-to-client request and resolves with the client's result. */
export type OutgoingRequest = (
  method: string,
  params: JsonObject,
  options: {
    signal?: AbortSignal;
    relatedRequestId?: RequestId;
    /** The handler's name for the request: its key in a multi round-trip round (2026-07-28). */
    inputKey?: string;
  },
) => Promise<JsonObject>;

/**
 * What the server knows about one client: a 2025 session, or, for a stateless request, the
 * request itself. Kept small on purpose: a server may hold thousands of idle sessions.
 */
export class Peer {
  protocolVersion: string;
  clientInfo: Implementation | undefined;
  clientCapabilities: ClientCapabilities | undefined;
  logLevel: LoggingLevel | undefined;
  initialized = false;
  /** URIs this peer subscribed to with resources/subscribe. */
  subscriptions: Set<string> | undefined;
  /** Requests still running, so notifications/cancelled can reach them. */
  inflight: Map<RequestId, { abort(reason: string): void }> | undefined;
  /** Set by a transport that can push unrelated messages (a 2025 GET stream). */
  push: ((message: JsonRpcNotification) => void) | undefined;
  readonly sessionId: string | undefined;

  constructor(protocolVersion: string, sessionId?: string) {
    this.protocolVersion = protocolVersion;
    this.sessionId = sessionId;
  }
}

/**
 * One incoming request as a transport hands it to the server: its way back to the client and
 * what the transport learned about the caller.
 */
export interface Exchange {
  readonly peer: Peer;
  /** Aborts when the client goes away. */
  readonly signal?: AbortSignal | undefined;
  /** The Hono context of the HTTP request that carried the message. */
  readonly http?: HonoContext | undefined;
  readonly auth?: AuthInfo | undefined;
  /** Sends a notification tied to this request (progress, logs). */
  notify(message: JsonRpcNotification): void;
  /** Sends a server-to-client request tied to this request. */
  request: OutgoingRequest;
  /**
   * Closes the connection carrying this request's reply without ending the request; the
   * client resumes it later (SSE polling). Absent where the reply cannot be resumed.
   */
  closeConnection?: (() => void) | undefined;
}

/** What a client's notification changes on its peer: initialized, or a request cancelled. */
export function receiveNotification(notification: JsonRpcNotification, peer: Peer): void {
  const params = notification.params ?? {};
  switch (notification.method) {
    case "notifications/initialized":
      peer.initialized = true;
      return;
    case "notifications/cancelled": {
      const id = params.requestId;
      if (typeof id !== "string" && typeof id !== "number") return;
      const reason = typeof params.reason === "string" ? params.reason : "cancelled by client";
      peer.inflight?.get(id)?.abort(reason);
      return;
    }
  }
}
