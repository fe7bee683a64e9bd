import type { Bus } from "../storage/bus.ts";
import type { Clock } from "../util/clock.ts";

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
  /** "client" for a client acting for itself (client_credentials); absent: a user's grant. */
  kind?: "client";
  /**
   * The JWK SHA-256 thumbprint of the DPoP key tokens are bound to (RFC 9449 §6): on a grant
   * being issued, the access token's `cnf.jkt`; on a refresh token's record, the key every
   * refresh must prove (public clients only, §5).
   */
  jkt?: string;
  /** Token exchange (RFC 8693 §4.1): the actor chain the access token records, newest first. */
  act?: ActorClaim;
  /** Unix seconds no access token of this grant may outlive (an exchanged token's subject's `exp`). */
  notAfter?: number;
}

/** The `act` claim: who acts for the subject, and whom that actor acted for in turn. */
export interface ActorClaim {
  sub: string;
  act?: ActorClaim;
}

export interface CodeRecord extends Grant {
  redirectUri: string;
  /** The client sent redirect_uri at /authorize, so /token must repeat it (RFC 6749 §4.1.3). */
  redirectUriSent: boolean;
  codeChallenge: string;
  /** The thumbprint of the only DPoP key whose proof may redeem the code (RFC 9449 §10). */
  dpopJkt?: string;
  /** Epoch ms. The record is kept longer, so that a late replay is still recognised. */
  expiresAt: number;
  used: boolean;
}

export interface RefreshRecord extends Grant {
  /** Epoch ms when it was exchanged, and the hash of its successor. */
  usedAt?: number;
  next?: string;
}

export interface TokenServiceOptions {
  /** Default Date.now. */
  clock?: Clock;
  /**
   * The server secret. It seals a rotated refresh token's successor for the grace period, so
   * that a retry gets the same successor back; needed when `refreshGraceMs` is above 0.
   */
  secret?: () => Promise<string>;
  /** Carries revocations to the other instances sharing the Store (see RevokedGrants). */
  bus?: Bus | undefined;
  /** How long an instance trusts its view that a grant is not revoked. Default 5 s, 60 s with a bus. */
  revocationRecheckMs?: number;
  /** Told of each grant revoked (with its subject when known), after the revocation is stored. */
  onGrantRevoked?: (gid: string, subject: string | undefined) => Promise<void> | undefined;
}

export interface TokenResponse {
  access_token: string;
  /** "DPoP" when the access token is bound to the key of the request's proof. */
  token_type: "Bearer" | "DPoP";
  expires_in: number;
  /** Omitted when nothing was granted: a scope value has at least one token (RFC 6749 §3.3). */
  scope?: string;
  refresh_token?: string;
}

/**
 * The claim that marks an access token no user stands behind (`gty`, "grant type", as other
 * issuers use it): our resource server and the third-party verifiers' default rule read it.
 */
export const MACHINE_CLAIM = "gty";
