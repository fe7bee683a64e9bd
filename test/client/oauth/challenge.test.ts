/** Reading Bearer challenges (WWW-Authenticate) from servers that may not be careful. */
import { describe, expect, it } from "vitest";
import { headlessRedirect, parseBearerChallenge } from "../../../src/client/index.ts";
import { dpopChallengeError } from "../../../src/client/oauth/challenge.ts";

describe("parseBearerChallenge", () => {
  it("reads the RFC 6750 and RFC 9728 parameters, quoted or not", () => {
    expect(
      parseBearerChallenge(
        'Bearer error="insufficient_scope", scope="files:read files:write", ' +
          'error_description="needs \\"write\\"", resource_metadata="https://x.example/.well-known/oauth-protected-resource/mcp"',
      ),
    ).toEqual({
      error: "insufficient_scope",
      scope: ["files:read", "files:write"],
      errorDescription: 'needs "write"',
      resourceMetadata: "https://x.example/.well-known/oauth-protected-resource/mcp",
    });
    expect(parseBearerChallenge("Bearer error=invalid_token")).toEqual({ error: "invalid_token" });
  });

  it("finds the Bearer challenge among others, and only the first one", () => {
    expect(
      parseBearerChallenge(
        'Basic realm="x", Bearer scope="a", DPoP algs="ES256", Bearer scope="b"',
      ),
    ).toEqual({ scope: ["a"] });
    expect(parseBearerChallenge('Basic abc==, Bearer scope="a"')).toEqual({ scope: ["a"] });
  });

  it("reads a DPoP challenge when there is no Bearer one (RFC 9449 §7.1), and prefers Bearer", () => {
    expect(parseBearerChallenge('DPoP algs="ES256", resource_metadata="https://a.test/m"')).toEqual(
      { resourceMetadata: "https://a.test/m" },
    );
    expect(
      parseBearerChallenge('Bearer scope="a", DPoP error="use_dpop_nonce", scope="b"'),
    ).toEqual({ scope: ["a"] });
    expect(dpopChallengeError('Bearer scope="a", DPoP error="use_dpop_nonce"')).toBe(
      "use_dpop_nonce",
    );
    expect(dpopChallengeError('Bearer error="invalid_token"')).toBeUndefined();
  });

  it("never throws on nonsense, and yields nothing without a Bearer or DPoP challenge", () => {
    expect(parseBearerChallenge(null)).toBeUndefined();
    expect(parseBearerChallenge("")).toBeUndefined();
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseBearerChallenge('="garbage')).toBeUndefined();
    expect(parseBearerChallenge("Bearer")).toEqual({});
    expect(parseBearerChallenge('Bearer scope="never closed')).toEqual({
      scope: ["never", "closed"],
    });
    expect(parseBearerChallenge('Bearer scope=""')).toEqual({});
  });
});

describe("headlessRedirect", () => {
  it("hands the authorization URL and redirect URI to its function", async () => {
    const seen: string[] = [];
    const session = await headlessRedirect(
      async (url, redirectUri) => {
        seen.push(url.href, redirectUri);
        return `${redirectUri}?code=c&state=s`;
      },
      { redirectUri: "https://app.example/callback" },
    ).start();
    expect(session.redirectUri).toBe("https://app.example/callback");
    const back = await session.complete(new URL("https://as.example/authorize?x=1"));
    expect(back.href).toBe("https://app.example/callback?code=c&state=s");
    expect(seen).toEqual(["https://as.example/authorize?x=1", "https://app.example/callback"]);
  });

  it("fails with ERR_BAD_CALLBACK for an answer that is not a URL, ERR_REDIRECT_TIMEOUT for none", async () => {
    const bad = await headlessRedirect(async () => "not a url").start();
    await expect(bad.complete(new URL("https://as.example/a"))).rejects.toMatchObject({
      code: "ERR_BAD_CALLBACK",
    });
    const slow = await headlessRedirect(() => new Promise<string>(() => undefined), {
      timeoutMs: 20,
    }).start();
    await expect(slow.complete(new URL("https://as.example/a"))).rejects.toMatchObject({
      code: "ERR_REDIRECT_TIMEOUT",
    });
    await slow.close();
  });
});
