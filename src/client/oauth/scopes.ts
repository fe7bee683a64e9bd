import { AuthorizationError } from "./errors.ts";

/** A scope set as one string: the key authorizations are counted under, and the `scope` sent. */
function scopeKey(scopes: Iterable<string>): string {
  return [...new Set(scopes)].sort().join(" ");
}

function splitScope(scope: string | undefined): string[] {
  return scope ? scope.split(/\s+/).filter(Boolean) : [];
}

/**
 * The scopes asked for so far, so that a new authorization keeps what earlier ones got, and
 * the authorizations per scope set, so that step-up gives up after a bounded number.
 */
export class ScopeLedger {
  readonly #asked = new Set<string>();
  readonly #attempts = new Map<string, number>();

  /** Another authorization server or resource: nothing asked of the old one applies. */
  clear(): void {
    this.#asked.clear();
    this.#attempts.clear();
  }

  /** Takes in the scope of tokens now in use (`offline_access` aside: it is no resource's). */
  granted(scope: string | undefined): void {
    for (const name of splitScope(scope)) {
      if (name !== "offline_access") this.#asked.add(name);
    }
  }

  /**
   * What to ask for after a 401: the challenge's scope, else everything the resource
   * metadata lists, else nothing (the server's default); plus whatever was asked for before
   * and the `scope` option.
   */
  forChallenge(
    challenged: string[] | undefined,
    supported: string[] | undefined,
    configured: string | undefined,
  ): Set<string> {
    const scopes = new Set(this.#asked);
    if (challenged?.length) for (const scope of challenged) scopes.add(scope);
    else if (scopes.size === 0) for (const scope of supported ?? []) scopes.add(scope);
    for (const scope of splitScope(configured)) scopes.add(scope);
    return scopes;
  }

  /**
   * What to ask for after a 403 insufficient_scope: the union of what was asked, what is held
   * and what the server requires. Throws ERR_STEP_UP_LIMIT once that set was authorized `max`
   * times already.
   */
  forStepUp(required: string[], held: string | undefined, max: number, server: URL): Set<string> {
    const scopes = new Set([...this.#asked, ...splitScope(held), ...required]);
    scopes.delete("offline_access");
    const key = scopeKey(scopes);
    if ((this.#attempts.get(key) ?? 0) >= max) {
      throw new AuthorizationError(
        "ERR_STEP_UP_LIMIT",
        `${server.href} still refuses after ${max} authorizations for "${key}"`,
      );
    }
    return scopes;
  }

  /** Counts an authorization for `scopes`, which are asked for from now on; returns its key. */
  authorizing(scopes: Set<string>): string {
    const key = scopeKey(scopes);
    this.#attempts.set(key, (this.#attempts.get(key) ?? 0) + 1);
    for (const scope of scopes) this.#asked.add(scope);
    return key;
  }
}
