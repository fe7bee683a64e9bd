import type * as oauth from "oauth4webapi";
import type { Target } from "./discovery.ts";
import type { DpopState } from "./dpop.ts";
import { AuthorizationError } from "./errors.ts";
import type { StoredTokens, TokenStore } from "./store.ts";

/** How the current access token was obtained, to tell a fresh token's rejection from expiry. */
export type TokenOrigin = "grant" | "refresh" | "store";

/** Unix time in seconds, the unit of token and secret expiry. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The tokens in use for the server, how they came and how often they were handed out, the
 * access tokens the server refused (never loaded again), and their copies in the TokenStore,
 * kept by issuer and, within it, by the resource they were issued for.
 */
export class TokenCache {
  readonly store: TokenStore;
  readonly #skewSeconds: number;
  readonly #onUse: (tokens: StoredTokens) => void;
  #tokens: StoredTokens | undefined;
  #origin: TokenOrigin = "store";
  /** How many requests the current token was handed to. */
  #uses = 0;
  /** Access tokens a server answered 401 to: never loaded from the store again. */
  readonly #rejected = new Set<string>();

  readonly #dpop: DpopState | undefined;

  /**
   * `onUse` learns of every token set put in use; `skewSeconds` is the early refresh margin;
   * `dpop`, when on, gives the key that DPoP-bound tokens are stored with.
   */
  constructor(
    store: TokenStore,
    skewSeconds: number,
    onUse: (tokens: StoredTokens) => void,
    dpop?: DpopState,
  ) {
    this.store = store;
    this.#dpop = dpop;
    this.#skewSeconds = skewSeconds;
    this.#onUse = onUse;
  }

  get tokens(): StoredTokens | undefined {
    return this.#tokens;
  }

  get origin(): TokenOrigin {
    return this.#origin;
  }

  get uses(): number {
    return this.#uses;
  }

  forget(): void {
    this.#tokens = undefined;
  }

  /** The access token for one more request. */
  handOut(tokens: StoredTokens): string {
    this.#uses++;
    return tokens.accessToken;
  }

  reject(tokens: StoredTokens): void {
    this.#rejected.add(tokens.accessToken);
  }

  isRejected(tokens: StoredTokens): boolean {
    return this.#rejected.has(tokens.accessToken);
  }

  /** Whether the access token is within the refresh margin of its expiry. */
  expiring(tokens: StoredTokens): boolean {
    return tokens.expiresAt !== undefined && tokens.expiresAt - this.#skewSeconds <= nowSeconds();
  }

  /** Whether the access token has not expired, or can be refreshed. */
  usable(tokens: StoredTokens): boolean {
    return (
      tokens.expiresAt === undefined || tokens.expiresAt > nowSeconds() || !!tokens.refreshToken
    );
  }

  /** Whether the access token has expired. */
  expired(tokens: StoredTokens): boolean {
    return tokens.expiresAt !== undefined && tokens.expiresAt <= nowSeconds();
  }

  use(tokens: StoredTokens, origin: TokenOrigin): void {
    this.#tokens = tokens;
    this.#origin = origin;
    this.#uses = 0;
    this.#onUse(tokens);
  }

  /** The tokens the store holds for the target's resource. */
  async stored(target: Target): Promise<StoredTokens | undefined> {
    return (await this.store.get(target.issuer))?.tokens?.[target.resource];
  }

  /**
   * Keeps what the token endpoint issued, in the store and as the tokens in use. A refresh
   * that brings no new refresh token or scope keeps those of `previous`.
   */
  async save(
    target: Target,
    result: oauth.TokenEndpointResponse,
    asked: string | undefined,
    origin: TokenOrigin,
    previous?: StoredTokens,
  ): Promise<void> {
    const type = result.token_type.toLowerCase();
    // A DPoP-bound token only when we sent a proof: oauth4webapi has checked that much.
    if (type !== "bearer" && !(type === "dpop" && this.#dpop)) {
      throw new AuthorizationError(
        "ERR_TOKEN_REQUEST_FAILED",
        `${target.issuer} issued a ${result.token_type} token; only Bearer and DPoP tokens are supported`,
      );
    }
    const tokens: StoredTokens = {
      accessToken: result.access_token,
      tokenType: type === "dpop" ? "DPoP" : "Bearer",
    };
    if (type === "dpop") {
      const key = await this.#dpop!.exportKey();
      if (key) tokens.dpopKey = key;
    }
    const refreshToken = result.refresh_token ?? previous?.refreshToken;
    if (refreshToken !== undefined) tokens.refreshToken = refreshToken;
    if (typeof result.expires_in === "number") tokens.expiresAt = nowSeconds() + result.expires_in;
    const scope = result.scope ?? previous?.scope ?? asked;
    if (scope !== undefined) tokens.scope = scope;
    const record = (await this.store.get(target.issuer)) ?? {};
    record.tokens = { ...record.tokens, [target.resource]: tokens };
    await this.store.set(target.issuer, record);
    this.use(tokens, origin);
  }

  /** Forgets the refresh token that no longer works, here and in the store. */
  async dropRefreshToken(target: Target, tokens: StoredTokens): Promise<void> {
    const { refreshToken: _dropped, ...rest } = tokens;
    const record = await this.store.get(target.issuer);
    if (record?.tokens && record.tokens[target.resource]?.refreshToken === tokens.refreshToken) {
      record.tokens = { ...record.tokens, [target.resource]: rest };
      await this.store.set(target.issuer, record);
    }
    if (this.#tokens === tokens) this.#tokens = rest;
  }
}
