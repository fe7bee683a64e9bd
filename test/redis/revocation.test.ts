/**
 * Revocation across server processes sharing one redis-server (issue 11): each instance keeps
 * verified tokens and a view of revoked grants, so a call costs no Redis read; a grant revoked
 * on one instance is refused by another as soon as the Redis Bus carries the message, or,
 * where the authorization server has no Bus, once the other instance's recheck is due.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/async.ts";
import { initializeRequest } from "../helpers/http.ts";
import { form } from "../helpers/oauth.ts";
import { post } from "../http/support.ts";
import { authorizeAcross, PUBLIC_HOST, redeem, type Tokens } from "./oauth.ts";
import {
  describeRedis,
  type Instance,
  startInstances,
  stopInstances,
  uniquePrefix,
} from "./support.ts";

const SECRET = "revocation-test-secret-0123456789abcdef-0123";

/** The status of `initialize` on an instance with a bearer token: 200 accepted, 401 refused. */
async function status(base: string, token: string): Promise<number> {
  const response = await post(`${base}/mcp`, initializeRequest(), {
    authorization: `Bearer ${token}`,
  });
  await response.body?.cancel();
  return response.status;
}

/** A user's tokens: registered and authorized on `base`, redeemed there. */
async function tokensOn(base: string): Promise<{ clientId: string; tokens: Tokens }> {
  const code = await authorizeAcross(base, base);
  const response = await redeem(base, code);
  expect(response.status).toBe(200);
  return { clientId: code.clientId, tokens: (await response.json()) as Tokens };
}

async function revokeOn(base: string, clientId: string, token: string): Promise<void> {
  const response = await fetch(`${base}/revoke`, form({ token, client_id: clientId }));
  expect(response.status).toBe(200);
}

describeRedis("revocation across instances", (url) => {
  const env = { REDIS_URL: url, PUBLIC_HOST, SECRET, REGISTER_LIMIT: "50" };

  // A recheck far beyond the test's timeout: only the Bus can tell instance 2 in time.
  const busEnv = { ...env, PREFIX: uniquePrefix("revoke-bus"), RECHECK_SECONDS: "600" };
  describeInstances("with the Bus", busEnv, (nodes) => {
    it("refuses a token on instance 2 once instance 1 revoked its grant, by the Bus alone", async () => {
      const [one, two] = nodes();
      const { clientId, tokens } = await tokensOn(one);
      // Verified and cached on 2, whose view of the grant stays fresh for 10 minutes.
      expect(await status(two, tokens.access_token)).toBe(200);
      expect(await status(two, tokens.access_token)).toBe(200);
      await revokeOn(one, clientId, tokens.access_token);
      expect(await status(one, tokens.access_token)).toBe(401);
      await eventually(
        () => status(two, tokens.access_token),
        (code) => code === 401,
      );
    });
  });

  describeInstances(
    "without the Bus",
    { ...env, PREFIX: uniquePrefix("revoke-store"), AS_BUS: "0" },
    (nodes) => {
      it("refuses a token on instance 2 once its recheck of the grant is due", async () => {
        const [one, two] = nodes();
        const { clientId, tokens } = await tokensOn(one);
        expect(await status(two, tokens.access_token)).toBe(200);
        await revokeOn(one, clientId, tokens.access_token);
        expect(await status(one, tokens.access_token)).toBe(401);
        // Instance 2's clock moves past the recheck (5 s by default without a Bus).
        await fetch(`${two}/__test/clock/6000`, { method: "POST" });
        expect(await status(two, tokens.access_token)).toBe(401);
      });
    },
  );
});

/** Two instances with `env` for the tests of `body`; `nodes()` gives their base URLs. */
function describeInstances(
  name: string,
  env: Record<string, string>,
  body: (nodes: () => [string, string]) => void,
): void {
  describe(name, () => {
    let instances: Instance[] = [];
    beforeAll(async () => {
      instances = await startInstances(2, env);
    }, 60_000);
    afterAll(async () => {
      await stopInstances(instances);
    });
    body(() => instances.map((node) => node.url) as [string, string]);
  });
}
