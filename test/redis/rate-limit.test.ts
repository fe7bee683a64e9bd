/**
 * Rate limits shared across instances (issue 13): two servers, each with its own Redis
 * connection and its own loopback port, count into one real redis-server, so a caller's
 * budget is the same whichever instance a load balancer picks. Callers carry signed JWTs.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { McpServer, mcpApp, rateLimit } from "../../src/index.ts";
import { redisStore } from "../../src/redis/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import { AUDIENCE, type JwtIssuer, startJwtIssuer } from "../helpers/jwt.ts";
import { errorOf, modernCall, resultOf } from "../http/modern-support.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

/** A whole minute: each window starts on it. */
const START = Date.UTC(2026, 0, 1, 12, 0, 0);

describeRedis("rateLimit on a shared Redis store", (url) => {
  let idp: JwtIssuer;
  beforeAll(async () => {
    idp = await startJwtIssuer();
  });
  afterAll(closeClients);

  /** Two instances of one deployment: same prefix, their own connection, clock and port. */
  async function deployment() {
    const prefix = uniquePrefix("rate");
    const clock = manualClock(START);
    const urls: string[] = [];
    let runs = 0;
    for (let i = 0; i < 2; i++) {
      const mcp = new McpServer({ name: `instance-${i}`, version: "1.0.0" });
      mcp.tool("search", {}, () => {
        runs++;
        return "found";
      });
      mcp.tool("export", {}, () => {
        runs++;
        return "exported";
      });
      mcp.use(
        rateLimit({
          store: redisStore({ client: client(url), prefix }),
          clock: clock.now,
          perSubject: { limit: 4, windowSeconds: 60 },
          perTool: { export: { limit: 2, windowSeconds: 60 } },
        }),
      );
      const app = mcpApp(mcp, {
        path: "/mcp",
        auth: { issuer: idp.issuer, verify: idp.verify, audience: AUDIENCE },
      });
      urls.push(`${await listen(app)}/mcp`);
    }
    return { urls, clock, runs: () => runs };
  }

  const call = (endpoint: string, token: string, tool: string) =>
    modernCall(
      endpoint,
      1,
      "tools/call",
      { name: tool, arguments: {} },
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );

  it("counts a caller's requests on both instances against one budget", async () => {
    const { urls, clock, runs } = await deployment();
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });
    // Alternate instances: four calls in all are allowed, the fifth is refused wherever it lands.
    for (let i = 0; i < 4; i++) resultOf(await call(urls[i % 2]!, alice, "search"));
    clock.advance(30_000);
    for (const endpoint of urls) {
      expect(errorOf(await call(endpoint, alice, "search"))).toMatchObject({
        code: -32029,
        data: { scope: "subject", retryAfterSeconds: 30 },
      });
    }
    // Another subject is not held back by alice.
    resultOf(await call(urls[1]!, bob, "search"));
    clock.advance(30_000);
    resultOf(await call(urls[0]!, alice, "search"));
    expect(runs()).toBe(6);
  });

  it("keeps a per-tool limit across instances apart from the per-subject one", async () => {
    const { urls, runs } = await deployment();
    const carol = await idp.sign({ sub: "carol" });
    resultOf(await call(urls[0]!, carol, "export"));
    resultOf(await call(urls[1]!, carol, "export"));
    expect(errorOf(await call(urls[0]!, carol, "export"))).toMatchObject({
      code: -32029,
      data: { scope: "tool", tool: "export" },
    });
    // Three of carol's four requests are spent: one more call of another tool goes through.
    resultOf(await call(urls[1]!, carol, "search"));
    expect(errorOf(await call(urls[1]!, carol, "search")).data).toMatchObject({ scope: "subject" });
    expect(runs()).toBe(3);
  });

  it("admits exactly the limit when calls race on both instances", async () => {
    const { urls, runs } = await deployment();
    const dave = await idp.sign({ sub: "dave" });
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(urls[i % 2]!, dave, "search")),
    );
    const admitted = replies.filter((reply) => reply.response.result !== undefined);
    expect(admitted).toHaveLength(4);
    expect(runs()).toBe(4);
  });
});
