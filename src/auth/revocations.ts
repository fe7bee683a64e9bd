import type { Bus } from "../storage/bus.ts";
import type { Store } from "../storage/store.ts";

/** The Bus channel on which instances tell each other of a revoked grant. */
export const REVOKED_CHANNEL = "as:revoked";
/** Grants whose state this instance keeps; older ones are asked of the Store again. */
const MAX_GRANTS = 10_000;
/** Longest grant id accepted from the Bus (ours are 22 characters). */
const MAX_GID_LENGTH = 256;

const revokedKey = (gid: string) => `as:revoked:${gid}`;

export interface RevokedGrantsOptions {
  store: Store;
  /** Carries revocations to the other instances that share the Store. */
  bus?: Bus | undefined;
  /** Epoch milliseconds now. */
  clock: () => number;
  /** How long a revocation is kept in the Store: as long as any token of the grant lives. */
  ttlMs: number;
  /** How long this instance trusts its view that a grant is not revoked before asking the Store again. */
  recheckMs: number;
}

interface GrantState {
  revoked: boolean;
  /** Epoch ms of the Store read (or Bus message) this state comes from. */
  checkedAt: number;
  /** The Store read under way, so that concurrent checks of one grant ask once. */
  pending?: Promise<boolean>;
}

/**
 * Which grants are revoked. The Store holds the truth; each instance keeps a view of it so
 * that checking a token costs no Store round trip: a grant it revoked itself is refused at
 * once, one revoked elsewhere as soon as the Bus says so, and without a Bus (or should a
 * message be lost) at the latest `recheckMs` after this instance last asked the Store.
 */
export class RevokedGrants {
  readonly #options: RevokedGrantsOptions;
  readonly #grants = new Map<string, GrantState>();

  constructor(options: RevokedGrantsOptions) {
    this.#options = options;
    options.bus?.subscribe(REVOKED_CHANNEL, (gid) => {
      if (gid && gid.length <= MAX_GID_LENGTH) this.#remember(gid, true);
    });
  }

  /** Revokes a grant: in the Store, here at once, and on the Bus for the other instances. */
  async revoke(gid: string): Promise<void> {
    await this.#options.store.set(revokedKey(gid), true, { ttlMs: this.#options.ttlMs });
    this.#remember(gid, true);
    try {
      await this.#options.bus?.publish(REVOKED_CHANNEL, gid);
    } catch (error) {
      // The Store has it: the other instances learn it at their next recheck instead.
      console.warn(
        `portcullis: a revocation could not be sent on the Bus; other instances apply it within ${this.#options.recheckMs / 1000} s:`,
        error,
      );
    }
  }

  /** Whether a grant is revoked, asked of the Store (for grants and token endpoints). */
  async isRevoked(gid: string): Promise<boolean> {
    return (await this.#options.store.get(revokedKey(gid))) !== undefined;
  }

  /**
   * Whether a grant is revoked, from this instance's view: synchronous while the view is
   * fresh, a Store read when it is not. A revoked grant stays revoked.
   */
  check(gid: string): boolean | Promise<boolean> {
    const state = this.#grants.get(gid);
    if (state?.revoked) return true;
    if (state?.pending) return state.pending;
    if (state && this.#options.clock() - state.checkedAt < this.#options.recheckMs) return false;
    const pending = this.isRevoked(gid).then(
      (revoked) => this.#remember(gid, revoked),
      (error: unknown) => {
        if (this.#grants.get(gid)?.pending === pending) this.#grants.delete(gid);
        throw error;
      },
    );
    this.#grants.delete(gid);
    this.#grants.set(gid, { revoked: false, checkedAt: state?.checkedAt ?? 0, pending });
    this.#evict();
    return pending;
  }

  #remember(gid: string, revoked: boolean): boolean {
    const known = this.#grants.get(gid);
    // A revocation heard while the Store was being asked wins over the older answer.
    const state: GrantState = {
      revoked: revoked || known?.revoked === true,
      checkedAt: this.#options.clock(),
    };
    this.#grants.delete(gid);
    this.#grants.set(gid, state);
    this.#evict();
    return state.revoked;
  }

  /** Forgets the least recently checked grants past the bound; the Store still knows them. */
  #evict(): void {
    while (this.#grants.size > MAX_GRANTS) this.#grants.delete(this.#grants.keys().next().value!);
  }
}
