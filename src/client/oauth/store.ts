import type { StoredDpopKey } from "./dpop.ts";

/** How a client authenticates at the token endpoint. */
export type ClientAuthMethod =
  | "none"
  | "client_secret_basic"
  | "client_secret_post"
  | "private_key_jwt";

/** A client id obtained from one authorization server (dynamic registration or a metadata document). */
export interface StoredClient {
  clientId: string;
  clientSecret?: string;
  authMethod: ClientAuthMethod;
  /** The redirect URI it was registered with. */
  redirectUri?: string;
  /** Unix seconds after which the secret is no good; absent or 0: never. */
  secretExpiresAt?: number;
  /** How the client id came about. */
  source: "registration" | "metadata-document";
}

/** Tokens for one resource, from one authorization server. */
export interface StoredTokens {
  accessToken: string;
  tokenType: string;
  refreshToken?: string;
  /** Unix seconds; absent when the server did not say. */
  expiresAt?: number;
  /** The scope granted (or, when the server did not say, the scope asked for). */
  scope?: string;
  /** For a DPoP-bound token: the private key it is bound to, as a JWK with its `alg`. */
  dpopKey?: StoredDpopKey;
}

/** Everything kept about one authorization server (one issuer). */
export interface IssuerRecord {
  client?: StoredClient;
  /** Tokens by resource: a token is only ever sent to the resource it was issued for. */
  tokens?: Record<string, StoredTokens>;
}

/**
 * Where the authorizer keeps client registrations and tokens, keyed by issuer. Implement it to
 * keep them in a keychain or a database; `memoryTokenStore()` keeps them for the life of the
 * process, `fileTokenStore()` from portcullis/node in an encrypted file.
 */
export interface TokenStore {
  get(issuer: string): Promise<IssuerRecord | undefined>;
  /** Replaces the record; undefined deletes it. */
  set(issuer: string, record: IssuerRecord | undefined): Promise<void>;
  /**
   * Runs `run` while no other holder of the same `name` runs, across every process that
   * shares the store (see `storeTokenStore`). The authorizer refreshes under it, so one
   * refresh token is spent by one process, and the others take up what it stored. Optional:
   * a store of one process needs none.
   */
  lock?<T>(name: string, run: () => Promise<T>): Promise<T>;
}

/** A TokenStore in memory: nothing outlives the process. */
export function memoryTokenStore(): TokenStore {
  const records = new Map<string, IssuerRecord>();
  return {
    async get(issuer) {
      const record = records.get(issuer);
      return record === undefined ? undefined : structuredClone(record);
    },
    async set(issuer, record) {
      if (record === undefined) records.delete(issuer);
      else records.set(issuer, structuredClone(record));
    },
  };
}
