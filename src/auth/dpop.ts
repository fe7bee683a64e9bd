import type { Context } from "hono";
import {
  type DpopOptions,
  DpopProofError,
  type DpopVerifier,
  dpopVerifier,
} from "../resource/dpop.ts";
import type { Store } from "../storage/store.ts";
import type { Clock } from "../util/clock.ts";
import { OAuthError } from "./errors.ts";

/** The two proof checkers of the built-in server: its token endpoint's and its resources'. */
export interface DpopCheckers {
  token: DpopVerifier;
  resource: DpopVerifier;
}

/**
 * The token endpoint's and the resources' proof checkers, sharing the server's Store (a
 * proof's jti is spent once across instances) and, for nonces, its secret; each has its own
 * nonces, as RFC 9449 §8 and §9 keep the two apart. Undefined with `dpop: false`.
 */
export function dpopCheckers(
  options: DpopOptions | false | undefined,
  store: Store,
  clock: Clock,
  secret: () => Promise<string>,
): DpopCheckers | undefined {
  if (options === false) return undefined;
  const { nonce, ...rest } = options ?? {};
  const nonces = nonce ? { secret, ...(nonce === true ? {} : nonce) } : undefined;
  const make = (label: string) =>
    dpopVerifier({ ...rest, ...(nonces ? { nonce: nonces } : {}), store, clock, label });
  return { token: make("as"), resource: make("rs") };
}

/**
 * Checks the DPoP proof of a token request (RFC 9449 §5), if it carries one: the thumbprint of
 * its key, to bind the tokens to; undefined without a proof. A bad proof is `invalid_dpop_proof`,
 * a missing or stale nonce `use_dpop_nonce` with the one to use in `DPoP-Nonce` (§8). Nothing
 * of the grant is spent before this passes, so the client can retry with the nonce.
 */
export async function tokenRequestProof(
  c: Context,
  checker: DpopVerifier | undefined,
  tokenEndpoint: string,
): Promise<{ jkt?: string; nextNonce?: string }> {
  const proof = c.req.header("dpop");
  if (checker?.required && proof === undefined) {
    throw new OAuthError(
      "invalid_dpop_proof",
      "This server issues only DPoP-bound tokens: send a DPoP proof",
    );
  }
  // A server without DPoP ignores the header (§5): the client gets a Bearer token.
  if (!checker || proof === undefined) return {};
  try {
    return await checker.verify({ proof, method: "POST", url: tokenEndpoint });
  } catch (error) {
    if (!(error instanceof DpopProofError)) throw error;
    const headers: Record<string, string> = error.nonce ? { "DPoP-Nonce": error.nonce } : {};
    throw new OAuthError(error.error, error.message, { headers });
  }
}
