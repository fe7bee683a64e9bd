import { Hono } from "hono";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { jwksVerifier, type TokenVerifier } from "../../src/index.ts";
import { listen } from "./http.ts";

/** The canonical URI the test endpoints answer as: the audience of the tokens. */
export const AUDIENCE = "https://mcp.example.test/mcp";

export interface JwtIssuer {
  readonly issuer: string;
  /** A jwksVerifier trusting this issuer, over loopback. */
  readonly verify: TokenVerifier;
  /**
   * Signs an access token for AUDIENCE (or `audience`) carrying `claims` (sub included),
   * valid five minutes.
   */
  sign(claims: Record<string, unknown>, audience?: string): Promise<string>;
}

/**
 * A third-party issuer on loopback that publishes its key set (JWKS) and signs access tokens
 * with whatever claims a test needs (roles, groups, tenant), for endpoints that verify them
 * with `jwksVerifier` as a production resource server would.
 */
export async function startJwtIssuer(): Promise<JwtIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "test-key", alg: "ES256", use: "sig" };
  const app = new Hono();
  app.get("/jwks", (c) => c.json({ keys: [jwk] }));
  const issuer = await listen(app);
  const verify = jwksVerifier({
    issuer,
    jwksUri: `${issuer}/jwks`,
    allowInsecureRequests: true,
  });
  return {
    issuer,
    verify,
    sign: (claims, audience = AUDIENCE) =>
      new SignJWT({ scope: "", ...claims })
        .setProtectedHeader({ alg: "ES256", kid: "test-key", typ: "at+jwt" })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey),
  };
}
