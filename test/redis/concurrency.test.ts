/**
 * Single use under a race: 200 parallel redemptions of one authorization code, then of one
 * refresh token, spread over three instances sharing one Redis, give exactly one success.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { authorizeAcross, PUBLIC_HOST, redeem, refresh, type Tokens } from "./oauth.ts";
import {
  describeRedis,
  type Instance,
  startInstances,
  stopInstances,
  uniquePrefix,
} from "./support.ts";

const PARALLEL = 200;

describeRedis("single use across instances", (url) => {
  let nodes: Instance[] = [];
  let bases: string[] = [];

  beforeAll(async () => {
    nodes = await startInstances(3, {
      REDIS_URL: url,
      PREFIX: uniquePrefix("race"),
      PUBLIC_HOST,
      SECRET: "race-test-secret-0123456789abcdef-0123456789",
      // No grace: a replayed refresh token gets nothing, however soon after its use.
      REFRESH_GRACE_MS: "0",
    });
    bases = nodes.map((node) => node.url);
  }, 60_000);

  afterAll(async () => {
    await stopInstances(nodes);
  });

  async function race(attempt: (base: string) => Promise<Response>) {
    const responses = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) => attempt(bases[i % bases.length]!)),
    );
    const bodies = await Promise.all(
      responses.map((r) => r.json() as Promise<Record<string, unknown>>),
    );
    const statuses = responses.map((r) => r.status);
    return { statuses, bodies, winners: bodies.filter((_, i) => statuses[i] === 200) };
  }

  it(`redeems one authorization code once out of ${PARALLEL} parallel attempts`, async () => {
    const code = await authorizeAcross(bases[0]!, bases[1]!);
    const { statuses, bodies, winners } = await race((base) => redeem(base, code));
    expect(winners).toHaveLength(1);
    expect(winners[0]).toHaveProperty("access_token");
    // Everyone else is told the code is spent; nobody gets a 5xx.
    const losers = bodies.filter((_, i) => statuses[i] !== 200);
    expect(new Set(statuses.filter((s) => s !== 200))).toEqual(new Set([400]));
    expect(losers.every((body) => body.error === "invalid_grant")).toBe(true);
  });

  it(`rotates one refresh token once out of ${PARALLEL} parallel attempts`, async () => {
    const code = await authorizeAcross(bases[1]!, bases[2]!);
    const issued = await redeem(bases[0]!, code);
    expect(issued.status).toBe(200);
    const tokens = (await issued.json()) as Tokens;
    const { statuses, winners } = await race((base) =>
      refresh(base, code.clientId, tokens.refresh_token),
    );
    expect(winners).toHaveLength(1);
    expect(new Set(statuses.filter((s) => s !== 200))).toEqual(new Set([400]));
  });
});
