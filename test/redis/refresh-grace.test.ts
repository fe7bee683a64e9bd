/**
 * The refresh grace across instances sharing one Redis (issue 10, point 8): a retry of a
 * rotated refresh token within the grace gets the same successor on any instance, parallel
 * presentations yield one successor, and the turn-about attack or a late replay revokes the
 * family. Each instance's clock is moved over HTTP, never by sleeping.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { initializeRequest, post } from "../helpers/http.ts";
import { authorizeAcross, PUBLIC_HOST, redeem, refresh, type Tokens } from "./oauth.ts";
import {
  describeRedis,
  type Instance,
  startInstances,
  stopInstances,
  uniquePrefix,
} from "./support.ts";

const GRACE_MS = 10_000;
const PARALLEL = 60;

describeRedis("refresh grace across instances", (url) => {
  let nodes: Instance[] = [];
  let bases: string[] = [];

  beforeAll(async () => {
    nodes = await startInstances(3, {
      REDIS_URL: url,
      PREFIX: uniquePrefix("grace"),
      PUBLIC_HOST,
      SECRET: "grace-test-secret-0123456789abcdef-0123456789",
      REFRESH_GRACE_MS: String(GRACE_MS),
    });
    bases = nodes.map((node) => node.url);
  }, 60_000);

  afterAll(async () => {
    await stopInstances(nodes);
  });

  /** Moves every instance's clock ahead. */
  const advance = (ms: number) =>
    Promise.all(bases.map((base) => post(`${base}/__test/clock/${ms}`, "")));

  async function tokensOf(response: Response): Promise<Tokens> {
    const text = await response.text();
    expect(response.status, text).toBe(200);
    return JSON.parse(text) as Tokens;
  }

  async function refused(response: Response): Promise<void> {
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: "invalid_grant",
      error_description: expect.stringMatching(/revoked/),
    });
  }

  async function family(): Promise<{ clientId: string; tokens: Tokens }> {
    const code = await authorizeAcross(bases[0]!, bases[1]!);
    return { clientId: code.clientId, tokens: await tokensOf(await redeem(bases[2]!, code)) };
  }

  async function mcpStatus(base: string, token: string): Promise<number> {
    const response = await post(`${base}/mcp`, initializeRequest(), {
      authorization: `Bearer ${token}`,
    });
    await response.body?.cancel();
    return response.status;
  }

  it(`${PARALLEL} parallel presentations of one refresh token over 3 instances yield one successor`, async () => {
    const { clientId, tokens } = await family();
    const responses = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        refresh(bases[i % bases.length]!, clientId, tokens.refresh_token),
      ),
    );
    const bodies = await Promise.all(responses.map(tokensOf));
    expect(new Set(bodies.map((body) => body.refresh_token)).size).toBe(1);
    // The successor is live, on any instance.
    expect(await mcpStatus(bases[2]!, bodies[0]!.access_token)).toBe(200);
    await tokensOf(await refresh(bases[1]!, clientId, bodies[0]!.refresh_token));
  });

  it("the turn-about attack over different instances ends with the family revoked", async () => {
    const { clientId, tokens } = await family();
    const stolen = tokens.refresh_token;
    const client2 = await tokensOf(await refresh(bases[0]!, clientId, stolen));
    await advance(1_000);
    const thief2 = await tokensOf(await refresh(bases[1]!, clientId, stolen));
    expect(thief2.refresh_token).toBe(client2.refresh_token);
    const client3 = await tokensOf(await refresh(bases[2]!, clientId, client2.refresh_token));
    await advance(1_000);
    await refused(await refresh(bases[1]!, clientId, stolen));
    await refused(await refresh(bases[0]!, clientId, client3.refresh_token));
    expect(await mcpStatus(bases[2]!, client3.access_token)).toBe(401);
  });

  it("a retry after the grace revokes the family, on any instance", async () => {
    const { clientId, tokens } = await family();
    const r2 = await tokensOf(await refresh(bases[0]!, clientId, tokens.refresh_token));
    await advance(GRACE_MS + 1);
    await refused(await refresh(bases[2]!, clientId, tokens.refresh_token));
    await refused(await refresh(bases[1]!, clientId, r2.refresh_token));
    expect(await mcpStatus(bases[0]!, r2.access_token)).toBe(401);
  });
});
