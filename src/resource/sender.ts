import type { Context } from "hono";
import type { AuthInfo } from "../mcp/peer.ts";
import { dpopChallengeResponse, resourceMetadataUrl } from "./challenge.ts";
import { DpopProofError, type DpopVerifier } from "./dpop.ts";

/** How a request presented its token: RFC 6750 Bearer, or RFC 9449 DPoP. */
export type TokenScheme = "bearer" | "dpop";

const CREDENTIALS = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i;

/** The scheme and token of an Authorization header; undefined for anything else. */
export function readCredentials(
  header: string,
): { scheme: TokenScheme; token: string } | undefined {
  const match = CREDENTIALS.exec(header);
  if (!match) return undefined;
  return { scheme: match[1]!.toLowerCase() as TokenScheme, token: match[2]! };
}

/** The `cnf.jkt` a token is bound to (RFC 9449 §6), from its claims or introspection answer. */
export function boundThumbprint(info: AuthInfo): string | undefined {
  const cnf = info.claims?.cnf;
  if (!cnf || typeof cnf !== "object" || Array.isArray(cnf)) return undefined;
  const jkt = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === "string" ? jkt : undefined;
}

/** What the sender check decided: refuse with this reply, or go on (with a nonce to send). */
export type SenderCheck = { refused: Response } | { refused?: undefined; nextNonce?: string };

/** The sender check of an unbound Bearer token: nothing to prove, nothing to send. */
const UNBOUND: SenderCheck = Object.freeze({});

/**
 * Proof of possession for a verified token (RFC 9449 §7): a DPoP-bound token needs the DPoP
 * scheme and a valid proof by its key; an unbound token may not be sent as DPoP. A bound
 * token sent as Bearer is refused: whoever holds a copy without the key cannot use it.
 * Synchronous unless a proof has to be checked (most tokens are plain Bearer ones).
 */
export function checkSender(
  c: Context,
  credentials: { scheme: TokenScheme; token: string },
  info: AuthInfo,
  dpop: DpopVerifier,
  resource: string,
  /** The URL the client addressed (the proof's `htu`): the request's, or the proxy's. */
  url: string = c.req.url,
): SenderCheck | Promise<SenderCheck> {
  const jkt = boundThumbprint(info);
  if (jkt === undefined && credentials.scheme === "bearer" && !dpop.required) return UNBOUND;
  const refuse = (
    error: "invalid_token" | "invalid_dpop_proof" | "use_dpop_nonce",
    description: string,
    nonce?: string,
  ) => ({
    refused: dpopChallengeResponse(
      {
        algs: dpop.algorithms,
        error,
        description,
        resourceMetadata: resourceMetadataUrl(resource),
      },
      nonce,
    ),
  });
  if (jkt === undefined) {
    if (credentials.scheme === "dpop") {
      return refuse("invalid_token", "The access token is not DPoP-bound; send it as Bearer");
    }
    return refuse("invalid_token", "This resource accepts only DPoP-bound access tokens");
  }
  if (credentials.scheme !== "dpop") {
    return refuse("invalid_token", "The access token is DPoP-bound; send it with the DPoP scheme");
  }
  return dpop
    .verify({
      proof: c.req.header("dpop"),
      method: c.req.method,
      url,
      accessToken: credentials.token,
      jkt,
    })
    .then(
      (result): SenderCheck =>
        result.nextNonce === undefined ? {} : { nextNonce: result.nextNonce },
      (error: unknown) => {
        if (!(error instanceof DpopProofError)) throw error;
        return refuse(error.error, error.message, error.nonce);
      },
    );
}
