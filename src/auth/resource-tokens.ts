import type { JWTPayload } from "jose";
import type { AuthInfo } from "../mcp/peer.ts";
import { tokenDigest, VerifiedTokenCache } from "../resource/token-cache.ts";
import { MACHINE_CLAIM, type TokenService } from "./tokens.ts";
import type { UpstreamTokens } from "./upstream-tokens.ts";

interface Verified {
  info: AuthInfo;
  issuer: string;
  audience: string;
  gid: string | undefined;
}

/** The caller an access token names, frozen: one object serves every request with the token. */
function authInfo(claims: JWTPayload, upstream: UpstreamTokens | undefined): AuthInfo {
  const info: AuthInfo = {
    // Only our own claim decides: a user's token never carries it, a machine's always does.
    kind: claims[MACHINE_CLAIM] === "client_credentials" ? "client" : "user",
    scopes: Object.freeze(
      typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [],
    ),
    claims: Object.freeze({ ...claims }) as Record<string, unknown>,
  };
  if (claims.sub !== undefined) info.subject = claims.sub;
  if (typeof claims.client_id === "string") info.clientId = claims.client_id;
  if (claims.exp !== undefined) info.expiresAt = claims.exp;
  // A user's grant reaches the user's upstream tokens; a client acting for itself has none.
  if (upstream && info.kind === "user" && claims.sub !== undefined)
    info.upstream = upstream.access(
      claims.sub,
      typeof claims.gid === "string" ? claims.gid : undefined,
    );
  return Object.freeze(info);
}

/**
 * Checks our access tokens for the resource server. A token whose signature and claims were
 * verified once is kept (by digest, bounded) until it expires; each use still asks whether its
 * grant was revoked, of the view RevokedGrants keeps, which costs no Store round trip while
 * that view is fresh.
 */
export class ResourceTokenVerifier {
  readonly #tokens: TokenService;
  readonly #clock: () => number;
  readonly #cache: VerifiedTokenCache<Verified>;
  readonly #upstream: UpstreamTokens | undefined;

  constructor(
    tokens: TokenService,
    options: { clock: () => number; cacheSize: number; upstream?: UpstreamTokens | undefined },
  ) {
    this.#tokens = tokens;
    this.#upstream = options.upstream;
    this.#clock = options.clock;
    this.#cache = new VerifiedTokenCache(options.cacheSize);
  }

  /** The caller a token names, or undefined (then `onReject` has been told why). */
  verify(
    token: string,
    issuer: string,
    audience: string,
    onReject?: (reason: string) => void,
  ): Promise<AuthInfo | undefined> {
    const key = tokenDigest(token);
    return typeof key === "string"
      ? this.#verify(key, token, issuer, audience, onReject)
      : key.then((digest) => this.#verify(digest, token, issuer, audience, onReject));
  }

  /** A cached token with no revocation to await costs no turn of the event loop. */
  #verify(
    key: string,
    token: string,
    issuer: string,
    audience: string,
    onReject: ((reason: string) => void) | undefined,
  ): Promise<AuthInfo | undefined> {
    const hit = this.#cache.get(key, this.#clock());
    if (!hit || hit.issuer !== issuer || hit.audience !== audience) {
      return this.#verifyFresh(key, token, issuer, audience, onReject);
    }
    const revoked = hit.gid === undefined ? false : this.#tokens.revocations.check(hit.gid);
    const answer = (isRevoked: boolean): AuthInfo | undefined => {
      if (!isRevoked) return hit.info;
      this.#cache.delete(key);
      onReject?.("revoked");
      return undefined;
    };
    return typeof revoked === "boolean" ? Promise.resolve(answer(revoked)) : revoked.then(answer);
  }

  async #verifyFresh(
    key: string,
    token: string,
    issuer: string,
    audience: string,
    onReject: ((reason: string) => void) | undefined,
  ): Promise<AuthInfo | undefined> {
    const claims = await this.#tokens.verifyAccessToken(
      token,
      { issuer, audience },
      { revocation: "view", onReject },
    );
    if (!claims) return undefined;
    const info = authInfo(claims, this.#upstream);
    if (typeof claims.exp === "number") {
      const gid = typeof claims.gid === "string" ? claims.gid : undefined;
      this.#cache.set(key, { info, issuer, audience, gid }, claims.exp * 1000);
    }
    return info;
  }
}
