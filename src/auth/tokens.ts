import {
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from "jose";
import { type Store, StoreUnavailableError } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { randomToken, s256, sha256, timingSafeEqual } from "../util/crypto.ts";
import { Sealer } from "../util/sealer.ts";
import { tokenRejection } from "../util/token-rejection.ts";
import { OAuthError, RefreshTokenReuseError } from "./errors.ts";
import type { KeyRing } from "./keys.ts";
import { resolveLifetimes, type TokenLifetimes } from "./lifetimes.ts";
import { RevokedGrants } from "./revocations.ts";
import {
  type CodeRecord,
  type Grant,
  MACHINE_CLAIM,
  type RefreshRecord,
  type TokenResponse,
  type TokenServiceOptions,
} from "./token-types.ts";

export {
  type CodeRecord,
  type Grant,
  MACHINE_CLAIM,
  type RefreshRecord,
  type TokenResponse,
  type TokenServiceOptions,
} from "./token-types.ts";

const codeKey = (hash: string) => `as:code:${hash}`;
const refreshKey = (hash: string) => `as:rt:${hash}`;
/** The sealed successor of a rotated refresh token, by the successor's hash; kept for the grace. */
const successorKey = (hash: string) => `as:rt-next:${hash}`;

/** Issues, rotates, verifies and revokes tokens. All single-use rules rest on Store atomics. */
export class TokenService {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  readonly #sealer: (() => Promise<Sealer>) | undefined;
  readonly #getKey: JWTVerifyGetKey;
  readonly lifetimes: TokenLifetimes;
  readonly revocations: RevokedGrants;
  readonly #onGrantRevoked: TokenServiceOptions["onGrantRevoked"];

  constructor(
    store: Store,
    keys: KeyRing,
    lifetimes: Partial<TokenLifetimes> = {},
    options: TokenServiceOptions = {},
  ) {
    this.#store = store;
    this.#keys = keys;
    this.lifetimes = resolveLifetimes(lifetimes);
    this.#clock = options.clock ?? systemClock;
    this.#onGrantRevoked = options.onGrantRevoked;
    this.revocations = new RevokedGrants({
      store,
      bus: options.bus,
      clock: this.#clock,
      ttlMs: Math.max(this.lifetimes.refreshToken, this.lifetimes.accessToken) * 1000,
      recheckMs: options.revocationRecheckMs ?? (options.bus ? 60_000 : 5_000),
    });
    this.#getKey = async (header) => {
      const key = await keys.verificationKey(header.kid);
      if (!key) throw new joseErrors.JWKSNoMatchingKey();
      return key;
    };
    const secret = options.secret;
    if (this.lifetimes.refreshGraceMs > 0 && !secret) {
      throw new TypeError("A refresh grace needs the server secret to seal successors");
    }
    let sealer: Promise<Sealer> | undefined;
    this.#sealer = secret
      ? () => {
          sealer ??= secret()
            .then((value) => new Sealer(value, "portcullis refresh successor"))
            .catch((error: unknown) => {
              sealer = undefined;
              throw error;
            });
          return sealer;
        }
      : undefined;
  }

  /** Stores a new authorization code and returns it. */
  async issueCode(
    grant: Grant,
    redirect: { uri: string; sent: boolean },
    codeChallenge: string,
    dpopJkt?: string,
  ): Promise<string> {
    const code = randomToken(32);
    const expiresAt = this.#clock() + this.lifetimes.code * 1000;
    const record: CodeRecord = {
      ...grant,
      redirectUri: redirect.uri,
      redirectUriSent: redirect.sent,
      codeChallenge,
      ...(dpopJkt !== undefined ? { dpopJkt } : {}),
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
      validate?: (grant: CodeRecord) => void;
    },
  ): Promise<CodeRecord> {
    const key = codeKey(await sha256(code));
    const record = await this.#store.get<CodeRecord>(key);
    if (!record) throw new OAuthError("invalid_grant", "Unknown or expired authorization code");
    const replayed = async () => {
      await this.revokeGrant(record.gid, record.subject);
      return new OAuthError(
        "invalid_grant",
        "The authorization code was already used; its tokens are revoked",
      );
    };
    if (record.used) throw await replayed();
    if (record.expiresAt < this.#clock()) {
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

  /** Seconds an access token of the grant lives: the configured lifetime, cut at `notAfter`. */
  #lifetime(grant: Grant, now: number): number {
    const lifetime = this.lifetimes.accessToken;
    return grant.notAfter === undefined ? lifetime : Math.min(lifetime, grant.notAfter - now);
  }

  /** Signs an RFC 9068 access token. */
  async accessToken(grant: Grant, issuer: string): Promise<string> {
    const { record, privateKey } = await this.#keys.current();
    const now = Math.floor(this.#clock() / 1000);
    const claims: JWTPayload = { client_id: grant.clientId, scope: grant.scope, gid: grant.gid };
    if (grant.authTime !== undefined) claims.auth_time = grant.authTime;
    if (grant.kind === "client") claims[MACHINE_CLAIM] = "client_credentials";
    if (grant.jkt !== undefined) claims.cnf = { jkt: grant.jkt };
    if (grant.act !== undefined) claims.act = grant.act;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: record.alg, typ: "at+jwt", kid: record.kid })
      .setIssuer(issuer)
      .setSubject(grant.subject)
      .setAudience(grant.resource)
      .setIssuedAt(now)
      .setExpirationTime(now + this.#lifetime(grant, now))
      .setJti(randomToken(16))
      .sign(privateKey);
  }

  /**
   * An access token (DPoP-bound when the grant has a `jkt`), plus a refresh token when the
   * client may refresh, bound to the same key only when `bindRefresh` says so (public clients).
   */
  async tokens(
    grant: Grant,
    issuer: string,
    withRefresh: boolean,
    bindRefresh = false,
  ): Promise<TokenResponse> {
    const response: TokenResponse = {
      access_token: await this.accessToken(grant, issuer),
      token_type: grant.jkt === undefined ? "Bearer" : "DPoP",
      expires_in: this.#lifetime(grant, Math.floor(this.#clock() / 1000)),
    };
    if (grant.scope) response.scope = grant.scope;
    if (withRefresh) {
      const { jkt, ...unbound } = grant;
      response.refresh_token = await this.#newRefreshToken(bindRefresh ? grant : unbound);
    }
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
   * never used (the client lost our response): then the retry gets that same successor back,
   * so retrying never mints a second live token for one family.
   */
  async refresh(
    token: string,
    clientId: string,
    /** Further checks of the request against the grant, before anything rotates; throw to refuse. */
    validate?: (grant: Grant) => void,
    /** Told when a used token comes again, once its grant (the whole family) is revoked. */
    onReuse?: (grant: Grant) => void,
  ): Promise<{ grant: Grant; refreshToken: string }> {
    const hash = await sha256(token);
    const key = refreshKey(hash);
    const ttlMs = this.lifetimes.refreshToken * 1000;
    const grace = this.lifetimes.refreshGraceMs;
    for (let attempt = 0; attempt < 3; attempt++) {
      const record = await this.#store.get<RefreshRecord>(key);
      if (!record) throw new OAuthError("invalid_grant", "Unknown or expired refresh token");
      if (record.clientId !== clientId) {
        throw new OAuthError("invalid_grant", "The refresh token was issued to another client");
      }
      if (await this.isRevoked(record.gid))
        throw new OAuthError("invalid_grant", "The grant was revoked");
      const { usedAt, next: _n, ...grant } = record;
      if (usedAt !== undefined) return this.#retry(record, usedAt, grant, validate, onReuse);
      validate?.(grant);
      const refreshToken = randomToken(32);
      const next = await sha256(refreshToken);
      // The successor exists before the old token points at it: whoever sees the old token
      // used also finds the successor (and, within the grace, its sealed copy).
      await this.#store.set(refreshKey(next), grant, { ttlMs });
      if (grace > 0) {
        const sealed = await (await this.#sealer!()).seal(refreshToken);
        await this.#store.set(successorKey(next), sealed, { ttlMs: grace });
      }
      const used: RefreshRecord = { ...record, usedAt: this.#clock(), next };
      if (!(await this.#store.compareAndSet(key, record, used, { ttlMs }))) {
        // Another request rotated it first; ours was never handed out.
        await this.#store.delete(refreshKey(next));
        if (grace > 0) await this.#store.delete(successorKey(next));
        continue;
      }
      // Now used, this token may no longer be handed to a retry of its predecessor.
      if (grace > 0) await this.#store.delete(successorKey(hash));
      return { grant, refreshToken };
    }
    // Only reachable when the record keeps changing under us without being used.
    throw new OAuthError("invalid_grant", "The refresh token could not be used; try again");
  }

  /**
   * A used refresh token presented again. Within the grace, while its successor is unused,
   * the successor itself is returned (an idempotent retry); anything else is reuse and
   * revokes the grant. Nothing new is issued either way.
   */
  async #retry(
    record: RefreshRecord,
    usedAt: number,
    grant: Grant,
    validate?: (grant: Grant) => void,
    onReuse?: (grant: Grant) => void,
  ): Promise<{ grant: Grant; refreshToken: string }> {
    const grace = this.lifetimes.refreshGraceMs;
    // A little negative when another instance's clock runs ahead: still within the grace.
    const elapsed = this.#clock() - usedAt;
    if (grace > 0 && record.next && elapsed <= grace) {
      // The sealed copy first: it is deleted once the successor is used, so the successor's
      // own record, read second, settles which came first.
      const sealed = await this.#store.get<string>(successorKey(record.next));
      const successor = await this.#store.get<RefreshRecord>(refreshKey(record.next));
      if (successor && successor.usedAt === undefined) {
        const refreshToken = sealed ? await (await this.#sealer!()).open(sealed) : undefined;
        if (!refreshToken || (await sha256(refreshToken)) !== record.next) {
          // The copy expired in the Store a little before our clock says it should.
          throw new OAuthError("invalid_grant", "The refresh token was already used");
        }
        validate?.(grant);
        return { grant, refreshToken };
      }
    }
    await this.revokeGrant(record.gid, record.subject);
    onReuse?.(grant);
    throw new RefreshTokenReuseError();
  }

  /** Ends a grant: its refresh tokens stop working and its access tokens fail validation. */
  async revokeGrant(gid: string, subject?: string): Promise<void> {
    await this.revocations.revoke(gid);
    await this.#onGrantRevoked?.(gid, subject);
  }

  /** Whether a grant is revoked, asked of the Store. */
  isRevoked(gid: string): Promise<boolean> {
    return this.revocations.isRevoked(gid);
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
   * lifetime, and that its grant was not revoked, asked of the Store or, with `revocation:
   * "view"`, of this instance's view of it (RevokedGrants). Returns the claims or undefined.
   */
  async verifyAccessToken(
    token: string,
    expected: { issuer: string; audience?: string | readonly string[] },
    options: {
      /** "view": ask this instance's view of revoked grants (RevokedGrants), not the Store. */
      revocation?: "store" | "view";
      /** Told why a token is refused, for the operator's log. */
      onReject?: ((reason: string) => void) | undefined;
    } = {},
  ): Promise<JWTPayload | undefined> {
    const { revocation = "store", onReject } = options;
    try {
      const { payload } = await jwtVerify(token, this.#getKey, {
        issuer: expected.issuer,
        ...(expected.audience === undefined
          ? {}
          : { audience: expected.audience as string | string[] }),
        typ: "at+jwt",
        algorithms: [this.#keys.alg],
        currentDate: new Date(this.#clock()),
      });
      const gid = payload.gid;
      if (typeof gid !== "string") return payload;
      const revoked =
        revocation === "store" ? await this.isRevoked(gid) : await this.revocations.check(gid);
      if (revoked) {
        onReject?.("revoked");
        return undefined;
      }
      return payload;
    } catch (error) {
      // Storage down is not a bad token: the caller must answer 503, not invalid_token.
      if (error instanceof StoreUnavailableError) throw error;
      onReject?.(tokenRejection(error));
      return undefined;
    }
  }
}
