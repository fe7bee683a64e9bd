/**
 * A refresh in a TokenStore shared by several processes: under the store's lock, and only when
 * no other process refreshed meanwhile; then its tokens are taken up instead. Refresh tokens
 * are often single use (rotated): two processes spending one would lose the grant.
 */
import { refreshGrant } from "./grants.ts";
import type { StoredTokens } from "./store.ts";
import type { GrantContext } from "./token-endpoint.ts";

export async function sharedRefresh(
  context: GrantContext,
  tokens: StoredTokens,
  adopt: (stored: StoredTokens) => Promise<void>,
): Promise<boolean> {
  const { cache, target } = context;
  const store = cache.store;
  if (!store.lock) return refreshGrant(context, tokens);
  return store.lock(`refresh ${target.issuer} ${target.resource}`, async () => {
    const stored = await cache.stored(target);
    if (
      stored &&
      stored.accessToken !== tokens.accessToken &&
      !cache.isRejected(stored) &&
      !cache.expiring(stored)
    ) {
      await adopt(stored);
      return true;
    }
    // The store's refresh token is the newest any process has.
    const refreshToken = stored?.refreshToken ?? tokens.refreshToken;
    return refreshGrant(context, refreshToken === undefined ? tokens : { ...tokens, refreshToken });
  });
}
