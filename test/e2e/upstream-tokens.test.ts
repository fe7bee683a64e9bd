/**
 * A tool calls a GitHub stand-in as the signed-in user (ctx.upstream.token()), end to end on
 * loopback: sign-in through the upstream (its login form, our consent), the tool call, the
 * refresh at expiry under concurrency on two instances sharing the memory Store, a refused
 * refresh ending in the 401 challenge, and revocation dropping the upstream tokens.
 */
import { describe, expect, it } from "vitest";
import { memoryStore, type Store } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import {
  callListRepos,
  type GitHubToolsDeployment,
  gitHubToolsDeployment,
  OCTOCAT,
  signInWithGitHub,
  UPSTREAM_TTL_SECONDS,
} from "../helpers/github.ts";
import { modernPost } from "../http/modern-support.ts";
import { upstreamTokensSuite } from "./upstream-tokens-suite.ts";

upstreamTokensSuite("memory Store", (clock) => memoryStore({ clock: clock.now }));

describe("upstream tokens: what only the memory suite checks", () => {
  it("keeps the upstream tokens sealed, never gives them to the MCP client, and refuses them as bearer", async () => {
    const clock = manualClock();
    const store: Store = memoryStore({ clock: clock.now });
    const deployment: GitHubToolsDeployment = await gitHubToolsDeployment(store, clock, 1);
    const ours = await signInWithGitHub(deployment.base, OCTOCAT.login);
    const upstream = deployment.github.currentToken(OCTOCAT.login)!;
    const sealed = await store.get<string>(`upstream:${OCTOCAT.id}`);
    expect(typeof sealed).toBe("string");
    expect(sealed).not.toContain(upstream);
    expect(JSON.stringify(ours)).not.toContain(upstream);
    // GitHub's token is no bearer for our endpoint (no token passthrough).
    const passthrough = await callListRepos(deployment.base, upstream);
    expect(passthrough.status).toBe(401);
  });

  it.each([
    ["a JSON reply", true],
    ["an SSE reply", false],
  ])(
    "a 2026-07-28 request whose refresh is refused gets the 401 challenge (%s)",
    async (_name, json) => {
      const clock = manualClock();
      const deployment = await gitHubToolsDeployment(
        memoryStore({ clock: clock.now }),
        clock,
        1,
        json,
      );
      const ours = await signInWithGitHub(deployment.base, OCTOCAT.login);
      clock.advance(UPSTREAM_TTL_SECONDS * 1000);
      deployment.github.refuseRefresh = true;
      const response = await modernPost(
        `${deployment.base}/mcp`,
        1,
        "tools/call",
        { name: "list_repos", arguments: {} },
        { headers: { authorization: `Bearer ${ours.access_token}` } },
      );
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect(deployment.github.refreshRequests).toBe(1);
    },
  );
});
