/**
 * The guards of issue 10 (points 2 and 3) inside workerd, where they run as deployed: the
 * capped body reader answers 413 on every authorization-server endpoint, and the SSRF guard
 * checks URLs by their text only, since a Worker cannot resolve names (its fetch leaves from
 * Cloudflare's network, which does not route to private addresses; see the README).
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { checkUrl, FetchRefusedError } from "../../src/util/ssrf.ts";

const base = "http://localhost";

async function refused(url: string, options = {}): Promise<FetchRefusedError> {
  const error = await checkUrl(new URL(url), options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, url).toBeInstanceOf(FetchRefusedError);
  return error as FetchRefusedError;
}

describe("the SSRF guard in workerd", () => {
  it("resolves no names by itself: a public-looking name passes on its text", async () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
    expect(await checkUrl(new URL("https://docs.example.com/client.json"), {})).toBeUndefined();
  });

  it.each([
    "https://127.0.0.1/x",
    "https://10.0.0.1/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/x",
    "https://[::ffff:a9fe:a9fe]/x",
    "https://localhost/x",
    "https://metadata.google.internal/x",
    "http://docs.example.com/x",
  ])("still refuses %s by its text", async (url) => {
    expect((await refused(url)).code).toBe("ERR_GUARD_URL_REFUSED");
  });

  it("uses a resolver passed in (a DNS-over-HTTPS one, say) and refuses a name resolving inward", async () => {
    const error = await refused("https://docs.attacker.test/x", {
      resolveHost: async () => ["169.254.169.254"],
    });
    expect(error.detail).toContain("169.254.169.254");
  });

  it("the Worker refuses a metadata-document client_id on a private address, saying nothing of it", async () => {
    const query = new URLSearchParams({
      response_type: "code",
      client_id: "https://10.0.0.1/client.json",
      redirect_uri: "http://127.0.0.1:9/callback",
      code_challenge: "x".repeat(43),
      code_challenge_method: "S256",
    });
    const response = await SELF.fetch(`${base}/authorize?${query}`, { redirect: "manual" });
    const html = await response.text();
    expect(response.status).toBe(400);
    expect(html).toContain("The client metadata document could not be fetched");
    expect(html).not.toContain("10.0.0.1");
  });
});

describe("request bodies in workerd", () => {
  // A body the server stops reading: workerd's in-process client may log "Network connection
  // lost" for the part it could not hand over, which is the point.
  const chunked = (size: number) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const chunk = new Uint8Array(Math.min(16 * 1024, size - sent)).fill(0x61);
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {},
    });
  };

  it.each([
    ["/token", "application/x-www-form-urlencoded", 16 * 1024],
    ["/revoke", "application/x-www-form-urlencoded", 16 * 1024],
    ["/introspect", "application/x-www-form-urlencoded", 16 * 1024],
    ["/register", "application/json", 64 * 1024],
  ])(
    "%s answers 413 invalid_request over its limit, declared or chunked",
    async (path, type, limit) => {
      for (const body of ["a".repeat(limit + 1), chunked(limit + 1)]) {
        const response = await SELF.fetch(`${base}${path}`, {
          method: "POST",
          headers: { "content-type": type },
          body,
        });
        expect(response.status).toBe(413);
        expect(await response.json()).toEqual({
          error: "invalid_request",
          error_description: `The request body is larger than ${limit} bytes`,
        });
      }
    },
  );

  it.each([
    ["/authorize", 16 * 1024],
    ["/consent", 4 * 1024],
    ["/login/dev", 4 * 1024],
  ])("%s answers a 413 page over its limit", async (path, limit) => {
    const response = await SELF.fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: chunked(limit + 1),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("Request too large");
  });
});
