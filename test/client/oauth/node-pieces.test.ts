/**
 * The Node pieces of the authorizer: the loopback redirect handler (a real listener on
 * 127.0.0.1) and the encrypted file token store.
 */
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { IssuerRecord } from "../../../src/client/index.ts";
import {
  fileTokenStore,
  loopbackRedirect,
  resolveHost,
  TokenStoreError,
} from "../../../src/node/index.ts";

const authorizationUrl = (state: string) =>
  new URL(`https://as.example/authorize?response_type=code&state=${state}`);

describe("loopbackRedirect", () => {
  it("listens on 127.0.0.1, shows the URL, and resolves with the browser's return", async () => {
    const shown: string[] = [];
    const opened: string[] = [];
    const session = await loopbackRedirect({
      print: (url) => shown.push(url),
      open: (url) => {
        opened.push(url);
      },
    }).start();
    try {
      expect(session.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      const done = session.complete(authorizationUrl("s1"));
      expect(shown).toEqual(["https://as.example/authorize?response_type=code&state=s1"]);
      expect(opened).toEqual(shown);
      const answer = await fetch(`${session.redirectUri}?code=abc&state=s1&iss=x`);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain("Authorized");
      const back = await done;
      expect(back.href).toBe(`${session.redirectUri}?code=abc&state=s1&iss=x`);
    } finally {
      await session.close();
    }
  });

  it("turns away requests that are not this authorization's return, and keeps waiting", async () => {
    const session = await loopbackRedirect({ print: false, open: false }).start();
    try {
      const done = session.complete(authorizationUrl("right"));
      expect((await fetch(`${session.redirectUri}?code=x&state=wrong`)).status).toBe(400);
      expect((await fetch(`${session.redirectUri}?code=x`)).status).toBe(400);
      const other = new URL(session.redirectUri);
      other.pathname = "/elsewhere";
      expect((await fetch(`${other.href}?code=x&state=right`)).status).toBe(404);
      expect((await fetch(session.redirectUri, { method: "POST" })).status).toBe(404);
      await fetch(`${session.redirectUri}?error=access_denied&state=right`);
      expect((await done).searchParams.get("error")).toBe("access_denied");
    } finally {
      await session.close();
    }
  });

  it("times out cleanly with ERR_REDIRECT_TIMEOUT and frees the port", async () => {
    const session = await loopbackRedirect({ print: false, open: false, timeoutMs: 50 }).start();
    const error = await session.complete(authorizationUrl("s")).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AuthorizationError", code: "ERR_REDIRECT_TIMEOUT" });
    await session.close();
    const refused = await fetch(`${session.redirectUri}?code=x&state=s`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
  });

  it("uses the port it is given", async () => {
    const probe = await loopbackRedirect({ print: false, open: false }).start();
    const port = Number(new URL(probe.redirectUri).port);
    await probe.close();
    const session = await loopbackRedirect({
      port,
      print: false,
      open: false,
      path: "/cb",
    }).start();
    expect(session.redirectUri).toBe(`http://127.0.0.1:${port}/cb`);
    await session.close();
  });
});

describe("fileTokenStore", () => {
  const record: IssuerRecord = {
    client: {
      clientId: "c1",
      clientSecret: "very-secret",
      authMethod: "client_secret_basic",
      source: "registration",
    },
    tokens: {
      "https://mcp.example/mcp": {
        accessToken: "access-token-value",
        tokenType: "Bearer",
        refreshToken: "refresh-token-value",
        expiresAt: 2_000_000_000,
        scope: "read",
      },
    },
  };

  async function path(): Promise<string> {
    return join(await mkdtemp(join(tmpdir(), "portcullis-store-")), "nested", "tokens.json");
  }

  it("round-trips records by issuer in an owner-only, encrypted file", async () => {
    const file = await path();
    const store = fileTokenStore(file, { key: "correct horse battery staple" });
    expect(await store.get("https://as.example")).toBeUndefined();
    await store.set("https://as.example", record);
    await store.set("https://other.example", { tokens: {} });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(file, ".."))).mode & 0o777).toBe(0o700);
    const text = await readFile(file, "utf8");
    for (const secret of [
      "very-secret",
      "access-token-value",
      "refresh-token-value",
      "as.example",
    ]) {
      expect(text).not.toContain(secret);
    }
    // A new store (another process) with the same key reads it back.
    const again = fileTokenStore(file, { key: "correct horse battery staple" });
    expect(await again.get("https://as.example")).toEqual(record);
    expect(await again.get("https://other.example")).toEqual({ tokens: {} });
    await again.set("https://other.example", undefined);
    expect(await store.get("https://other.example")).toBeUndefined();
    expect(await store.get("https://as.example")).toEqual(record);
  });

  it("takes a 32-byte key as it is", async () => {
    const file = await path();
    const key = crypto.getRandomValues(new Uint8Array(32));
    await fileTokenStore(file, { key }).set("i", record);
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ kdf: "raw" });
    expect(await fileTokenStore(file, { key }).get("i")).toEqual(record);
  });

  it("refuses to read with the wrong key, or a file that was changed", async () => {
    const file = await path();
    await fileTokenStore(file, { key: "right key" }).set("i", record);
    const wrong = await fileTokenStore(file, { key: "wrong key" })
      .get("i")
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(TokenStoreError);
    expect(wrong).toMatchObject({ code: "ERR_TOKEN_STORE_KEY" });

    const envelope = JSON.parse(await readFile(file, "utf8")) as { data: string };
    const bytes = Buffer.from(envelope.data, "base64url");
    bytes[0] = bytes[0]! ^ 1;
    await writeFile(file, JSON.stringify({ ...envelope, data: bytes.toString("base64url") }));
    const tampered = await fileTokenStore(file, { key: "right key" })
      .get("i")
      .catch((e: unknown) => e);
    expect(tampered).toMatchObject({ code: "ERR_TOKEN_STORE_KEY" });

    await writeFile(file, "not a token file");
    const corrupt = await fileTokenStore(file, { key: "right key" })
      .get("i")
      .catch((e: unknown) => e);
    expect(corrupt).toMatchObject({ code: "ERR_TOKEN_STORE_CORRUPT" });
  });

  it("keeps every write when they overlap within a process", async () => {
    const file = await path();
    const store = fileTokenStore(file, { key: "k" });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.set(`issuer-${i}`, { tokens: {} })),
    );
    for (let i = 0; i < 10; i++) expect(await store.get(`issuer-${i}`)).toEqual({ tokens: {} });
  });

  it("needs a key", () => {
    expect(() => fileTokenStore("/tmp/x", { key: "" })).toThrow(TypeError);
  });
});

describe("resolveHost", () => {
  it("returns literal addresses as they are and resolves names", async () => {
    expect(await resolveHost("10.0.0.1")).toEqual(["10.0.0.1"]);
    expect(await resolveHost("[::1]")).toEqual(["::1"]);
    expect(await resolveHost("localhost")).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(127\.0\.0\.1|::1)$/)]),
    );
  });
});
