import { canonicalResource } from "../util/resource-uri.ts";

/** What a token exchange policy is asked about. */
export interface TokenExchangeRequest {
  /** The authenticated client asking: it becomes the actor (`act.sub`). */
  clientId: string;
  /** The user (or machine client) the subject token names. */
  subject: string;
  /** The client the subject token was issued to. */
  subjectClientId: string;
  /** The audience of the subject token: the resource that received it. */
  subjectAudience: string;
  /** The resource the new token is for (canonical URI). */
  audience: string;
  /** The scopes the new token would carry. */
  scopes: readonly string[];
  /** The actors already in the chain, nearest first (from the subject token's `act`). */
  actors: readonly string[];
}

/** Decides one exchange: true allows it, false refuses it with unauthorized_client. */
export type TokenExchangePolicy = (request: TokenExchangeRequest) => boolean | Promise<boolean>;

/**
 * Token exchange (RFC 8693) at the token endpoint. Off unless given: no client may exchange
 * tokens until the operator says which may, for which audiences.
 */
export interface TokenExchangeOptions {
  /**
   * Which clients may exchange, for which audiences: a map from client_id to the resource URIs
   * it may ask tokens for, or a function deciding each request. Clients without credentials
   * (public clients) are always refused.
   */
  allow: Readonly<Record<string, readonly string[]>> | TokenExchangePolicy;
  /** The longest chain of actors a token may record (nested `act`). Default 3. */
  maxActors?: number;
}

/** Checks the options at construction, so that a mistake fails at startup. */
export function checkTokenExchangeOptions(options: TokenExchangeOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "tokenExchange must be an object such as { allow: { client: [audience] } }",
    );
  }
  const { allow, maxActors } = options;
  if (typeof allow === "object" && allow !== null) {
    for (const [client, audiences] of Object.entries(allow)) {
      if (!Array.isArray(audiences) || audiences.some((a) => !canonicalResource(String(a)))) {
        throw new TypeError(
          `tokenExchange.allow["${client}"] must list absolute resource URIs, such as ["https://api.example.com/mcp"]`,
        );
      }
    }
  } else if (typeof allow !== "function") {
    throw new TypeError(
      "tokenExchange.allow must map client ids to resource URIs, or be a function deciding each request",
    );
  }
  if (maxActors !== undefined && !(Number.isInteger(maxActors) && maxActors >= 1)) {
    throw new TypeError("tokenExchange.maxActors must be a whole number, 1 or more");
  }
}
