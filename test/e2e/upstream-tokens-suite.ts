/**
 * What ctx.upstream.token() must do on every Store: run by test/e2e (memory Store) and by
 * test/redis (a real redis-server). Two instances share the Store behind one origin.
 */
import { describe, expect, it } from "vitest";
import type { Store } from "../../src/storage/index.ts";
import { until } from "../helpers/async.ts";
import { type ManualClock, manualClock } from "../helpers/clock.ts";
import {
  callListRepos,
  gitHubToolsDeployment,
  OCTOCAT,
  signInWithGitHub,
  UPSTREAM_TTL_SECONDS,
} from "../helpers/github.ts";
import { messagesOf } from "../helpers/http.ts";
import { Browser, form } from "../helpers/oauth.ts";

/** The real Store, with the attempts to take the upstream refresh lock counted. */
function countingLocks(inner: Store): { store: Store; lockAttempts: () => number } {
  let attempts = 0;
  const store: Store = Object.create(inner) as Store;
  store.add = (key, value, options) => {
    if (key.startsWith("upstream-lock:")) attempts++;
    return inner.add(key, value, options);
  };
  for (const name of [
    "get",
    "set",
    "delete",
    "take",
    "compareAndSet",
    "increment",
    "addMember",
    "removeMember",
    "members",
  ] as const) {
    (store as unknown as Record<string, unknown>)[name] = (inner[name] as () => unknown).bind(
      inner,
    );
  }
  return { store, lockAttempts: () => attempts };
}

type Json = Record<string, unknown>;

async function toolResult(response: Response): Promise<Json> {
  expect(response.status).toBe(200);
  const [message] = (await messagesOf(response)) as Json[];
  return message!.result as Json;
}

/** Past the upstream token's expiry, well within ours. */
const UPSTREAM_EXPIRY_MS = UPSTREAM_TTL_SECONDS * 1000;

export function upstreamTokensSuite(label: string, makeStore: (clock: ManualClock) => Store): void {
  describe(`ctx.upstream.token() against a GitHub stand-in (${label})`, () => {
    async function setUp() {
      const clock = manualClock();
      const counted = countingLocks(makeStore(clock));
      const deployment = await gitHubToolsDeployment(counted.store, clock);
      return { clock, ...deployment, store: counted.store, lockAttempts: counted.lockAttempts };
    }

    it("a tool calls the API as the user with the upstream token", async () => {
      const { base, github } = await setUp();
      const ours = await signInWithGitHub(base, OCTOCAT.login);
      const result = await toolResult(await callListRepos(base, ours.access_token));
      expect(result.isError).toBeFalsy();
      expect(JSON.stringify(result.content)).toContain("octocat/hello-world");
      expect(github.apiCalls).toEqual([200, 200]); // /user at sign-in, then the tool's call
    });

    it("refreshes an expired token once under 20 concurrent calls on two instances", async () => {
      const { base, github, clock, lockAttempts } = await setUp();
      const ours = await signInWithGitHub(base, OCTOCAT.login);
      const before = github.currentToken(OCTOCAT.login);
      clock.advance(UPSTREAM_EXPIRY_MS);
      const release = github.holdRefreshes();
      const calls = Array.from({ length: 20 }, (_, i) =>
        callListRepos(base, ours.access_token, i + 1).then(toolResult),
      );
      // One instance holds the lock and waits on GitHub; the other has tried the lock too.
      await until(() => github.refreshRequests === 1 && lockAttempts() >= 2);
      release();
      const results = await Promise.all(calls);
      for (const result of results) {
        expect(result.isError, JSON.stringify(result)).toBeFalsy();
        expect(JSON.stringify(result.content)).toContain("octocat/hello-world");
      }
      expect(github.refreshRequests).toBe(1);
      expect(github.refreshes).toBe(1);
      expect(github.currentToken(OCTOCAT.login)).not.toBe(before);
      // Every API call carried a current token: nothing was refused for a stale one.
      expect(github.apiCalls.filter((status) => status !== 200)).toEqual([]);
      // Still fresh: the next call refreshes nothing.
      await toolResult(await callListRepos(base, ours.access_token, 21));
      expect(github.refreshRequests).toBe(1);
    });

    it("a refused refresh ends in the 401 challenge, drops the tokens, and sign-in goes upstream again", async () => {
      const { base, github, clock, store } = await setUp();
      const browser = new Browser();
      const ours = await signInWithGitHub(base, OCTOCAT.login, browser);
      clock.advance(UPSTREAM_EXPIRY_MS);
      github.refuseRefresh = true;
      const refused = await callListRepos(base, ours.access_token);
      expect(refused.status).toBe(401);
      const challenge = refused.headers.get("www-authenticate") ?? "";
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('error="invalid_token"');
      expect(challenge).toContain(
        `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
      );
      expect(await refused.json()).toMatchObject({ error: "invalid_token" });
      expect(await store.get(`upstream:${OCTOCAT.id}`)).toBeUndefined();
      // The MCP grant ended with them: the client's refresh fails, so it authorizes afresh.
      const refresh = await fetch(
        `${base}/token`,
        form({
          grant_type: "refresh_token",
          refresh_token: ours.refresh_token,
          client_id: ours.clientId,
        }),
      );
      expect(refresh.status).toBe(400);
      expect(await refresh.json()).toMatchObject({ error: "invalid_grant" });
      // The same browser, still signed in with us, is sent through GitHub again.
      github.refuseRefresh = false;
      const again = await signInWithGitHub(base, OCTOCAT.login, browser);
      const result = await toolResult(await callListRepos(base, again.access_token));
      expect(result.isError).toBeFalsy();
    });

    it("revoking the MCP grant discards the upstream tokens", async () => {
      const { base, store } = await setUp();
      const ours = await signInWithGitHub(base, OCTOCAT.login);
      await toolResult(await callListRepos(base, ours.access_token));
      expect(await store.get(`upstream:${OCTOCAT.id}`)).toBeDefined();
      const revoked = await fetch(
        `${base}/revoke`,
        form({ token: ours.refresh_token, client_id: ours.clientId }),
      );
      expect(revoked.status).toBe(200);
      expect(await store.get(`upstream:${OCTOCAT.id}`)).toBeUndefined();
      const after = await callListRepos(base, ours.access_token);
      expect(after.status).toBe(401);
    });
  });
}
