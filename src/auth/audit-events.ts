/**
 * What every audit event says: who (subject), through which client, for which scopes and
 * resource, when, and in which request. Fields that do not apply to an event are absent.
 * No event ever carries a token, code, code verifier, secret, password or cookie.
 */
export interface AuditEventBase {
  /** ISO 8601, from the authorization server's clock. */
  time: string;
  /** The request's correlation id: its `X-Request-Id` (sent, else generated), as in the logs. */
  requestId: string;
  /** The user (or, for client_credentials, the client) the event is about. */
  subject?: string;
  clientId?: string;
  scopes?: readonly string[];
  /** The protected resource (token audience). */
  resource?: string;
  /** The grant every token of one authorization shares: links its code, tokens and refreshes. */
  grantId?: string;
}

/** A client registered itself (RFC 7591). */
export interface ClientRegisteredEvent extends AuditEventBase {
  type: "client.registered";
  clientId: string;
  clientName?: string;
  redirectUris: readonly string[];
  /** How it authenticates at the token endpoint ("none" for a public client). */
  authMethod: string;
}

/** A user signed in through the login provider. */
export interface SignInSucceededEvent extends AuditEventBase {
  type: "signin.succeeded";
  subject: string;
  /** The login provider's name ("dev", "upstream", …). */
  provider: string;
}

/** A sign-in was refused (expired or forged form, identity provider said no, …). */
export interface SignInFailedEvent extends AuditEventBase {
  type: "signin.failed";
  provider: string;
  /** Why, in a few words, for the operator; never what the user typed. */
  reason: string;
}

/** The user approved a client, on the consent page or by a consent remembered earlier. */
export interface ConsentGrantedEvent extends AuditEventBase {
  type: "consent.granted";
  subject: string;
  clientId: string;
  /** True when an earlier consent approved this request without asking. */
  remembered: boolean;
}

/** The user refused a client on the consent page. */
export interface ConsentDeniedEvent extends AuditEventBase {
  type: "consent.denied";
  subject: string;
  clientId: string;
}

/** An authorization code went back to the client. */
export interface CodeIssuedEvent extends AuditEventBase {
  type: "code.issued";
  subject: string;
  clientId: string;
  grantId: string;
}

/** A code was exchanged for tokens. */
export interface TokenIssuedEvent extends AuditEventBase {
  type: "token.issued";
  grantType: "authorization_code";
  subject: string;
  clientId: string;
  grantId: string;
  /** Whether a refresh token came with the access token. */
  refreshToken: boolean;
}

/** A refresh token was exchanged for new tokens, and replaced. */
export interface RefreshRotatedEvent extends AuditEventBase {
  type: "refresh.rotated";
  subject: string;
  clientId: string;
  grantId: string;
}

/** A refresh token was used twice: whoever holds it may be a thief, so the grant is revoked. */
export interface RefreshReuseDetectedEvent extends AuditEventBase {
  type: "refresh.reuse_detected";
  subject: string;
  clientId: string;
  grantId: string;
  /** The grant (the whole token family) is revoked. Always true. */
  familyRevoked: true;
}

/** A client revoked a token (RFC 7009), and with it its grant. */
export interface TokenRevokedEvent extends AuditEventBase {
  type: "token.revoked";
  subject: string;
  clientId: string;
  grantId: string;
  tokenType: "access_token" | "refresh_token";
}

/** A configured client got a token for itself (client_credentials). */
export interface ClientCredentialsGrantedEvent extends AuditEventBase {
  type: "client_credentials.granted";
  subject: string;
  clientId: string;
  grantId: string;
}

/**
 * A client exchanged a user's access token for one to another resource (RFC 8693). `clientId`
 * is the actor; `actors` the whole chain the new token records, newest first.
 */
export interface TokenExchangedEvent extends AuditEventBase {
  type: "token.exchanged";
  subject: string;
  clientId: string;
  grantId: string;
  resource: string;
  /** The client the subject token was issued to, and the resource it was for. */
  subjectClientId: string;
  subjectAudience: string;
  actors: readonly string[];
}

/**
 * A client got a token for a user on an enterprise identity provider's say-so (an ID-JAG with
 * the JWT bearer grant). `assertionIssuer` is that provider.
 */
export interface AssertionGrantedEvent extends AuditEventBase {
  type: "assertion.granted";
  subject: string;
  clientId: string;
  grantId: string;
  resource: string;
  assertionIssuer: string;
}

/** A caller went past a rate limit and was refused with 429. */
export interface RateLimitHitEvent extends AuditEventBase {
  type: "rate_limit.hit";
  /** The limited endpoint: "register", "authorize", "token", "consent", "login", "revoke", "introspect". */
  bucket: string;
  retryAfterSeconds: number;
}

/** Every event the authorization server's `audit` sink receives, told apart by `type`. */
export type AuditEvent =
  | ClientRegisteredEvent
  | SignInSucceededEvent
  | SignInFailedEvent
  | ConsentGrantedEvent
  | ConsentDeniedEvent
  | CodeIssuedEvent
  | TokenIssuedEvent
  | RefreshRotatedEvent
  | RefreshReuseDetectedEvent
  | TokenRevokedEvent
  | ClientCredentialsGrantedEvent
  | TokenExchangedEvent
  | AssertionGrantedEvent
  | RateLimitHitEvent;

export type AuditEventType = AuditEvent["type"];

/** An event as an endpoint reports it; the server adds the time and the request id. */
export type AuditRecord = AuditEvent extends infer Event
  ? Event extends AuditEvent
    ? Omit<Event, "time" | "requestId">
    : never
  : never;

/**
 * Receives every audit event. It is called without being awaited: a sink that throws or
 * rejects is logged (once per kind of failure) and the request goes on; a slow one delays
 * nothing. Write events somewhere durable (see `jsonLinesAudit`).
 */
export type AuditSink = (event: AuditEvent) => void | Promise<void>;
