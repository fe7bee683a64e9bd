import type { Store } from "../storage/store.ts";
import type { Clock } from "../util/clock.ts";
import { consentedClients, forgetConsents } from "./consent.ts";
import type { Grant, TokenService } from "./tokens.ts";

/** A user's grant as the connected-apps page and the operator API show it. */
export interface GrantRecord {
  gid: string;
  subject: string;
  clientId: string;
  scope: string;
  resource: string;
  /** Epoch ms of the token request that redeemed the authorization code. */
  createdAt: number;
  /** Epoch ms of the grant's last token issuance: the code exchange or the latest refresh. */
  lastUsedAt: number;
}

const grantKey = (gid: string) => `as:grant:${gid}`;
/** The set of a subject's grant ids, each member living as long as the grant's record. */
const subjectKey = (subject: string) => `as:grants:${subject}`;
const disabledKey = (clientId: string) => `as:client-disabled:${clientId}`;

export interface GrantLedgerOptions {
  store: Store;
  tokens: TokenService;
  clock: Clock;
}

/**
 * Users' grants by subject: recorded when a code is redeemed, touched at each refresh (so
 * "last used" costs one write per token issuance, never one per MCP request), listed with
 * revoked and expired ones left out, and revoked with everything that descends from them.
 * Also which clients the operator disabled.
 *
 * A grant revoked elsewhere (RFC 7009 revocation, refresh-token reuse) stays in the index
 * until the next listing of its subject drops it.
 */
export class GrantLedger {
  readonly #store: Store;
  readonly #tokens: TokenService;
  readonly #clock: Clock;

  constructor(options: GrantLedgerOptions) {
    this.#store = options.store;
    this.#tokens = options.tokens;
    this.#clock = options.clock;
  }

  /** Records a user's grant as its code is redeemed; lives as long as its longest token. */
  async issued(grant: Grant, withRefresh: boolean): Promise<void> {
    if (grant.kind === "client") return;
    const now = this.#clock();
    await this.#write({ ...this.#fields(grant), createdAt: now, lastUsedAt: now }, withRefresh);
  }

  /** Marks a grant used by a refresh, and keeps it listed for the refresh token's lifetime. */
  async refreshed(grant: Grant): Promise<void> {
    if (grant.kind === "client") return;
    const known = await this.#store.get<GrantRecord>(grantKey(grant.gid));
    const now = this.#clock();
    await this.#write(
      { ...this.#fields(grant), createdAt: known?.createdAt ?? now, lastUsedAt: now },
      true,
    );
  }

  /** A subject's live grants, newest first; revoked and expired ones are dropped from the index. */
  async list(subject: string): Promise<GrantRecord[]> {
    const index = subjectKey(subject);
    const found = await Promise.all(
      (await this.#store.members(index)).map(async (gid) => {
        const record = await this.#store.get<GrantRecord>(grantKey(gid));
        if (record && !(await this.#tokens.isRevoked(gid))) return record;
        await this.#store.removeMember(index, gid);
        return undefined;
      }),
    );
    return found
      .filter((record): record is GrantRecord => record !== undefined)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** The clients a subject approved: those with live grants, and those with remembered consent. */
  async clientsOf(subject: string): Promise<string[]> {
    const withGrants = (await this.list(subject)).map((grant) => grant.clientId);
    return [...new Set([...withGrants, ...(await consentedClients(this.#store, subject))])];
  }

  /** One grant by id, unless revoked or expired. */
  async get(gid: string): Promise<GrantRecord | undefined> {
    const record = await this.#store.get<GrantRecord>(grantKey(gid));
    return record && !(await this.#tokens.isRevoked(gid)) ? record : undefined;
  }

  /**
   * Revokes a grant: its refresh tokens are refused from now on and its access tokens at the
   * built-in resource server (at once on this instance, on the others through the Bus), the
   * user's remembered consent for its client is forgotten, and it leaves the listing.
   */
  async revoke(record: GrantRecord): Promise<void> {
    await this.#tokens.revokeGrant(record.gid, record.subject);
    await forgetConsents(this.#store, record.subject, record.clientId);
    await this.#store.delete(grantKey(record.gid));
    await this.#store.removeMember(subjectKey(record.subject), record.gid);
  }

  /**
   * Revokes every grant of a subject, or only those of one client, and forgets the matching
   * remembered consents. Returns the grants revoked.
   */
  async revokeAll(subject: string, clientId?: string): Promise<GrantRecord[]> {
    const grants = (await this.list(subject)).filter(
      (grant) => clientId === undefined || grant.clientId === clientId,
    );
    for (const grant of grants) await this.revoke(grant);
    await forgetConsents(this.#store, subject, clientId);
    return grants;
  }

  async isDisabled(clientId: string): Promise<boolean> {
    return (await this.#store.get(disabledKey(clientId))) !== undefined;
  }

  /** A disabled client gets no codes and no tokens, refreshes included, until enabled again. */
  async setDisabled(clientId: string, disabled: boolean): Promise<void> {
    if (disabled) await this.#store.set(disabledKey(clientId), true);
    else await this.#store.delete(disabledKey(clientId));
  }

  #fields(grant: Grant): Omit<GrantRecord, "createdAt" | "lastUsedAt"> {
    const { gid, subject, clientId, scope, resource } = grant;
    return { gid, subject, clientId, scope, resource };
  }

  async #write(record: GrantRecord, withRefresh: boolean): Promise<void> {
    const { refreshToken, accessToken } = this.#tokens.lifetimes;
    const ttl = { ttlMs: (withRefresh ? Math.max(refreshToken, accessToken) : accessToken) * 1000 };
    await this.#store.set(grantKey(record.gid), record, ttl);
    await this.#store.addMember(subjectKey(record.subject), record.gid, ttl);
  }
}
