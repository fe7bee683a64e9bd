import { type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { type Store, StoreUnavailableError } from "../storage/store.ts";
import { randomToken, s256, sha256, timingSafeEqual } from "./crypto.ts";
import { OAuthError } from "./errors.ts";
import type { KeyRing } from "./keys.ts";

/** What an authorization (and every token that descends from it) grants. */
export interface Grant {
  /** Grant id: every token from one authorization shares it, so one revocation ends them all. */
  gid: string;
  subject: string;
  clientId: string;
  scope: string;
  /** The audience: the canonical URI of the protected resource. */
  resource: string;
  /** Unix seconds of the user's login, when known. */
  authTime?: number;
}

export interface CodeRecord extends Grant {
  redirectUri: string;
  /** The client sent redirect_uri at /authorize, so /token must repeat it (RFC 6749 §4.1.3). */
  redirectUriSent: boolean;
  codeChallenge: string;
  /** Epoch ms. The record is kept longer, so that a late replay is still recognised. */
  expiresAt: number;
  used: boolean;
}

interface RefreshRecord extends Grant {
  /** Epoch ms when it was exchanged, and the hash of its successor. */
  usedAt?: number;
  next?: string;
}

export interface TokenLifetimes {
  /** Seconds. Default 3600. */
  accessToken: number;
  /** Seconds. Default 30 days. */
  refreshToken: number;
  /** Seconds. Default 60. */
  code: number;
  /** Milliseconds in which a rotated refresh token may be presented again (a lost response). Default 10 s. */
  refreshGraceMs: number;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  /** Omitted when nothing was granted: a scope value has at least one token (RFC 6749 §3.3). */
  scope?: string;
  refresh_token?: string;
}

export function resolveLifetimes(lifetimes: Partial<TokenLifetimes> = {}): TokenLifetimes {
  return {
    accessToken: lifetimes.accessToken ?? 3600,
    refreshToken: lifetimes.refreshToken ?? 30 * 86_400,
    code: lifetimes.code ?? 60,
    refreshGraceMs: lifetimes.refreshGraceMs ?? 10_000,
  };
}

const codeKey = (hash: string) => `as:code:${hash}`;
const refreshKey = (hash: string) => `as:rt:${hash}`;
const revokedKey = (gid: string) => `as:revoked:${gid}`;

/** Issues, rotates, verifies and revokes tokens. All single-use rules rest on Store atomics. */
export class TokenService {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly lifetimes: TokenLifetimes;

  constructor(store: Store, keys: KeyRing, lifetimes: Partial<TokenLifetimes> = {}) {
    this.#store = store;
    this.#keys = keys;
    this.lifetimes = resolveLifetimes(lifetimes);
  }

  /** Stores a new authorization code and returns it. */
  async issueCode(
    grant: Grant,
    redirect: { uri: string; sent: boolean },
    codeChallenge: string,
  ): Promise<string> {
    const code = randomToken(32);
    const expiresAt = Date.now() + this.lifetimes.code * 1000;
    const record: CodeRecord = {
      ...grant,
      redirectUri: redirect.uri,
      redirectUriSent: redirect.sent,
      codeChallenge,
      expiresAt,
      used: false,
    };
    await this.#store.set(codeKey(await sha256(code)), record, {
      ttlMs: Math.max(this.lifetimes.code, 600) * 1000,
    });
    return code;
  }

  /**
   * Redeems a code once. A second redemption revokes every token issued from the first
   * (RFC 9700 §4.5): whoever replays a code cannot keep what the code bought.
   */
  async redeemCode(
    code: string,
    check: {
      clientId: string;
      redirectUri: string | undefined;
      codeVerifier: string;
      /** Further checks of the request against the grant; throw to refuse. */
      validate?: (grant: Grant) => void;
    },
  ): Promise<CodeRecord> {
    const key = codeKey(await sha256(code));
    const record = await this.#store.get<CodeRecord>(key);
    if (!record) throw new OAuthError("invalid_grant", "Unknown or expired authorization code");
    const replayed = async () => {
      await this.revokeGrant(record.gid);
      return new OAuthError(
        "invalid_grant",
        "The authorization code was already used; its tokens are revoked",
      );
    };
    if (record.used) throw await replayed();
    if (record.expiresAt < Date.now()) {
      throw new OAuthError("invalid_grant", "Unknown or expired authorization code");
    }
    if (record.clientId !== check.clientId) {
      throw new OAuthError("invalid_grant", "The code was issued to another client");
    }
    // Required when /authorize had it; whenever present it must be the same URI.
    const omitted = check.redirectUri === undefined && !record.redirectUriSent;
    if (!omitted && check.redirectUri !== record.redirectUri) {
      throw new OAuthError(
        "invalid_grant",
        "redirect_uri does not match the authorization request",
      );
    }
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(check.codeVerifier)) {
      throw new OAuthError("invalid_grant", "code_verifier is malformed");
    }
    if (!timingSafeEqual(await s256(check.codeVerifier), record.codeChallenge)) {
      throw new OAuthError("invalid_grant", "code_verifier does not match the code_challenge");
    }
    check.validate?.(record);
    // Spent only now: a refused request (wrong client, verifier, redirect_uri or resource,
    // perhaps from whoever intercepted the code) must not keep the rightful client from it.
    if (!(await this.#store.compareAndSet(key, record, { ...record, used: true }))) {
      throw await replayed();
    }
    return record;
  }

  /** Signs an RFC 9068 access token. */
  async accessToken(grant: Grant, issuer: string): Promise<string> {
    const { record, privateKey } = await this.#keys.current();
    const now = Math.floor(Date.now() / 1000);
    const claims: JWTPayload = { client_id: grant.clientId, scope: grant.scope, gid: grant.gid };
    if (grant.authTime !== undefined) claims.auth_time = grant.authTime;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: record.alg, typ: "at+jwt", kid: record.kid })
      .setIssuer(issuer)
      .setSubject(grant.subject)
      .setAudience(grant.resource)
      .setIssuedAt(now)
      .setExpirationTime(now + this.lifetimes.accessToken)
      .setJti(randomToken(16))
      .sign(privateKey);
  }

  /** An access token, plus a refresh token when the client may refresh. */
  async tokens(grant: Grant, issuer: string, withRefresh: boolean): Promise<TokenResponse> {
    const response: TokenResponse = {
      access_token: await this.accessToken(grant, issuer),
      token_type: "Bearer",
      expires_in: this.lifetimes.accessToken,
    };
    if (grant.scope) response.scope = grant.scope;
    if (withRefresh) response.refresh_token = await this.#newRefreshToken(grant);
    return response;
  }

  async #newRefreshToken(grant: Grant): Promise<string> {
    const token = randomToken(32);
    const record: RefreshRecord = { ...grant };
    await this.#store.set(refreshKey(await sha256(token)), record, {
      ttlMs: this.lifetimes.refreshToken * 1000,
    });
    return token;
  }

  /**
   * Exchanges a refresh token for new tokens, rotating it. Presenting a rotated token again
   * revokes the whole grant, unless it comes within the grace period and its successor was
   * never used (the client lost our response): then the successor is rotated instead.
   */
  async refresh(
    token: string,
    clientId: string,
    /** Further checks of the request against the grant, before anything rotates; throw to refuse. */
    validate?: (grant: Grant) => void,
  ): Promise<{ grant: Grant; refreshToken: string }> {
    let hash = await sha256(token);
    let followed = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      const key = refreshKey(hash);
      const record = await this.#store.get<RefreshRecord>(key);
      if (!record) throw new OAuthError("invalid_grant", "Unknown or expired refresh token");
      if (record.clientId !== clientId) {
        throw new OAuthError("invalid_grant", "The refresh token was issued to another client");
      }
      if (await this.isRevoked(record.gid))
        throw new OAuthError("invalid_grant", "The grant was revoked");
      if (record.usedAt !== undefined) {
        // One hop only: a successor that was itself used means the old token is being reused,
        // not retried after a lost response, however recent.
        // A grace of 0 means none: clocks of several instances may differ by a few ms.
        if (
          !followed &&
          this.lifetimes.refreshGraceMs > 0 &&
          Date.now() - record.usedAt <= this.lifetimes.refreshGraceMs &&
          record.next
        ) {
          hash = record.next;
          followed = true;
          continue;
        }
        await this.revokeGrant(record.gid);
        throw new OAuthError(
          "invalid_grant",
          "The refresh token was already used; the grant is revoked",
        );
      }
      const refreshToken = randomToken(32);
      const next = await sha256(refreshToken);
      const { usedAt: _u, next: _n, ...grant } = record;
      validate?.(grant);
      if (
        !(await this.#store.compareAndSet(key, record, { ...record, usedAt: Date.now(), next }))
      ) {
        continue;
      }
      await this.#store.set(refreshKey(next), grant, { ttlMs: this.lifetimes.refreshToken * 1000 });
      return { grant, refreshToken };
    }
    // Only reachable when the record keeps changing under us without being used.
    throw new OAuthError("invalid_grant", "The refresh token could not be used; try again");
  }

  /** Ends a grant: its refresh tokens stop working and its access tokens fail validation. */
  async revokeGrant(gid: string): Promise<void> {
    const ttl = Math.max(this.lifetimes.refreshToken, this.lifetimes.accessToken) * 1000;
    await this.#store.set(revokedKey(gid), true, { ttlMs: ttl });
  }

  async isRevoked(gid: string): Promise<boolean> {
    return (await this.#store.get(revokedKey(gid))) !== undefined;
  }

  /** The grant of a refresh token, if it is one of ours and still usable. */
  async refreshTokenGrant(token: string): Promise<Grant | undefined> {
    const record = await this.#store.get<RefreshRecord>(refreshKey(await sha256(token)));
    if (!record || record.usedAt !== undefined || (await this.isRevoked(record.gid)))
      return undefined;
    return record;
  }

  /**
   * Verifies one of our access tokens: signature by a current key, `typ`, issuer, audience,
   * lifetime, and that its grant was not revoked. Returns the claims or undefined.
   */
  async verifyAccessToken(
    token: string,
    expected: { issuer: string; audience?: string | readonly string[] },
  ): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = await this.#keys.verificationKey(header.kid);
          if (!key) throw new joseErrors.JWKSNoMatchingKey();
          return key;
        },
        {
          issuer: expected.issuer,
          ...(expected.audience === undefined
            ? {}
            : { audience: expected.audience as string | string[] }),
          typ: "at+jwt",
          algorithms: [this.#keys.alg],
        },
      );
      if (typeof payload.gid === "string" && (await this.isRevoked(payload.gid))) return undefined;
      return payload;
    } catch (error) {
      // Storage down is not a bad token: the caller must answer 503, not invalid_token.
      if (error instanceof StoreUnavailableError) throw error;
      return undefined;
    }
  }
}
