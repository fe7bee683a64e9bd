/**
 * A DPoP proof is single use across instances: two verifiers (two instances of a resource
 * server) over one Redis, the proof accepted by one is refused by the other, in parallel too.
 */
import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, expect, it } from "vitest";
import { redisStore } from "../../src/redis/index.ts";
import { DpopProofError, dpopVerifier } from "../../src/resource/index.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

const URL_ = "https://mcp.example.test/mcp";
const TOKEN = "an-access-token";

afterAll(closeClients);

async function aProof(): Promise<{ proof: string; jkt: string }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(TOKEN));
  const proof = await new SignJWT({
    htm: "POST",
    htu: URL_,
    ath: base64url.encode(new Uint8Array(digest)),
  })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
    .setIssuedAt()
    .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(privateKey);
  return { proof, jkt: await calculateJwkThumbprint(jwk, "sha256") };
}

describeRedis("DPoP jti over Redis", (url) => {
  it("accepts a proof once across instances sharing the Store, even when raced", async () => {
    const prefix = uniquePrefix("dpop");
    const redis = [client(url), client(url), client(url)];
    const instances = redis.map((connection) =>
      dpopVerifier({ store: redisStore({ client: connection, prefix }), label: "rs" }),
    );
    const { proof, jkt } = await aProof();
    const request = { proof, method: "POST", url: URL_, accessToken: TOKEN, jkt };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => instances[i % 3]!.verify(request)),
    );
    const accepted = outcomes.filter((o) => o.status === "fulfilled");
    expect(accepted).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toBeInstanceOf(DpopProofError);
        expect((outcome.reason as DpopProofError).error).toBe("invalid_dpop_proof");
      }
    }
    // The spent jti expires with the proof: its key has a TTL in Redis.
    const keys = await redis[0]!.keys(`${prefix}dpop:rs:jti:*`);
    expect(keys).toHaveLength(1);
    const ttl = await redis[0]!.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(71_000);
  });
});
