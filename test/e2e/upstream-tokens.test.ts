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
} from "../helpers/github.ts";
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
});
