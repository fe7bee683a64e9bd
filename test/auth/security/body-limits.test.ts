/**
 * Every authorization-server endpoint that reads a body reads it with the one capped reader
 * (src/util/body.ts): a body over the endpoint's limit is refused with 413 before it is read,
 * whether its Content-Length says so or it arrives chunked, and the rest of it is not read
 * either (the connection closes). Proved by bytes, never by time: the server socket's
 * `bytesRead` and the client's pull counter both stop far below the 50 MB offered.
 */
import type { HttpBindings } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoServer } from "../../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../../src/auth/index.ts";
import { mcpApp } from "../../../src/index.ts";
import { type RunningServer, serve } from "../../../src/node/index.ts";
import {
  authorizeUrl,
  Browser,
  expectOAuthError,
  pkce,
  type RecordingStore,
  recordingStore,
  registerPublic,
} from "./support.ts";

const MB = 1024 * 1024;
const OFFERED = 50 * MB;
// What the server may read off the socket at most: Node's first reads and parser buffers.
const SERVER_READ_BOUND = 1 * MB;
// What the client may push before back-pressure stops it: also the kernel's socket buffers.
const CLIENT_PULL_BOUND = OFFERED / 4;

/** What the server saw of one test request, keyed by the x-test-id header. */
interface Seen {
  contentLength: string | null;
  transferEncoding: string | null;
  /** Bytes read from the connection's socket, once it closed. */
  closed: Promise<number>;
}

let running: RunningServer;
let base: string;
let store: RecordingStore;
const seen = new Map<string, Seen>();

beforeAll(async () => {
  store = recordingStore();
  const as = authorizationServer({
    store,
    login: devLogin(),
    scopes: ["notes:read", "notes:write"],
  });
  const app = mcpApp(createDemoServer(), { path: "/mcp", auth: as });
  running = await serve(
    {
      fetch(request: Request, env: HttpBindings) {
        const id = request.headers.get("x-test-id");
        if (id) {
          const socket = env.incoming.socket;
          seen.set(id, {
            contentLength: request.headers.get("content-length"),
            transferEncoding: request.headers.get("transfer-encoding"),
            closed: new Promise((done) => socket.once("close", () => done(socket.bytesRead))),
          });
        }
        return app.fetch(request, env);
      },
    },
    { port: 0, hostname: "127.0.0.1" },
  );
  base = running.url;
});

afterAll(() => running.close());

/** Writes to the store other than rate-limit counters, since `from` (an index into writes). */
const changesSince = (from: number) =>
  store.writes.slice(from).filter((key) => !key.startsWith("as:rl:"));

interface Offered {
  response: Response;
  text: string;
  /** Bytes the client's body stream handed over. */
  pulled: number;
  /** Bytes the server read from the socket. */
  serverRead: number;
  seen: Seen;
}

/** POSTs a 50 MB body from a stream that counts what is pulled from it. */
async function offer(
  path: string,
  options: { declared: boolean; contentType: string; browser?: Browser },
): Promise<Offered> {
  let pulled = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= OFFERED) {
        controller.close();
        return;
      }
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  const id = crypto.randomUUID();
  const headers: Record<string, string> = {
    "content-type": options.contentType,
    "x-test-id": id,
    ...(options.declared ? { "content-length": String(OFFERED) } : {}),
  };
  const init = { method: "POST", headers, body, duplex: "half" } as RequestInit;
  const response = options.browser
    ? await options.browser.fetch(`${base}${path}`, init)
    : await fetch(`${base}${path}`, init);
  const text = await response.text();
  const record = seen.get(id);
  expect(record, "the request reached the server").toBeDefined();
  return { response, text, pulled, serverRead: await record!.closed, seen: record! };
}

/** The server read neither the body nor the rest of it, by bytes on both ends. */
function expectUnread(offered: Offered, declared: boolean): void {
  if (declared) {
    expect(offered.seen.contentLength).toBe(String(OFFERED));
  } else {
    expect(offered.seen.contentLength).toBeNull();
    expect(offered.seen.transferEncoding).toBe("chunked");
  }
  expect(offered.serverRead).toBeLessThan(SERVER_READ_BOUND);
  expect(offered.pulled).toBeLessThan(CLIENT_PULL_BOUND);
}

async function expectServes(): Promise<void> {
  const response = await fetch(`${base}/.well-known/oauth-authorization-server`);
  expect(response.status).toBe(200);
  expect(((await response.json()) as { issuer: string }).issuer).toBe(base);
}

const OAUTH_ENDPOINTS = [
  ["/register", "application/json", 64 * 1024],
  ["/token", "application/x-www-form-urlencoded", 16 * 1024],
  ["/revoke", "application/x-www-form-urlencoded", 16 * 1024],
  ["/introspect", "application/x-www-form-urlencoded", 16 * 1024],
] as const;

const PAGES = [
  ["/authorize", 16 * 1024],
  ["/consent", 4 * 1024],
  ["/login/dev", 4 * 1024],
] as const;

describe.each([
  ["declared in Content-Length", true],
  ["sent chunked", false],
])("a 50 MB body %s", (_how, declared) => {
  it.each(OAUTH_ENDPOINTS)(
    "%s answers 413 invalid_request before reading it",
    async (path, contentType, limit) => {
      const before = store.writes.length;
      const offered = await offer(path, { declared, contentType });
      const body = await expectOAuthError(
        new Response(offered.text, offered.response),
        413,
        "invalid_request",
      );
      expect(body.error_description).toBe(`The request body is larger than ${limit} bytes`);
      expectUnread(offered, declared);
      expect(changesSince(before)).toEqual([]);
      await expectServes();
    },
  );

  it.each(PAGES)("%s answers a short 413 page before reading it", async (path) => {
    const before = store.writes.length;
    const offered = await offer(path, {
      declared,
      contentType: "application/x-www-form-urlencoded",
    });
    expect(offered.response.status).toBe(413);
    expect(offered.response.headers.get("content-type")).toContain("text/html");
    expect(offered.response.headers.get("x-frame-options")).toBe("DENY");
    expect(offered.response.headers.get("cache-control")).toBe("no-store");
    expect(offered.text).toContain("Request too large");
    expect(offered.text.length).toBeLessThan(2048);
    expectUnread(offered, declared);
    expect(changesSince(before)).toEqual([]);
    await expectServes();
  });
});

describe("the limits sit where they are documented", () => {
  const pad = (size: number, prefix: string) => prefix + "a".repeat(size - prefix.length);

  it.each(OAUTH_ENDPOINTS)(
    "%s reads a body of its limit and refuses one byte more",
    async (path, contentType, limit) => {
      const prefix = contentType === "application/json" ? '{"x":"' : "x=";
      const suffix = contentType === "application/json" ? '"}' : "";
      const body = (size: number) => pad(size - suffix.length, prefix) + suffix;
      const at = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": contentType },
        body: body(limit),
      });
      const atText = await at.text();
      expect(at.status, atText).not.toBe(413);
      expect(JSON.parse(atText)).toHaveProperty("error");

      const before = store.writes.length;
      const over = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": contentType },
        body: body(limit + 1),
      });
      await expectOAuthError(over, 413, "invalid_request");
      expect(changesSince(before)).toEqual([]);
    },
  );

  it.each(PAGES)("%s reads a form of its limit and refuses one byte more", async (path, limit) => {
    const send = (size: number) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: pad(size, "x="),
        redirect: "manual",
      });
    const at = await send(limit);
    await at.text();
    expect(at.status).not.toBe(413);
    const over = await send(limit + 1);
    expect(over.status).toBe(413);
    expect(await over.text()).toContain("Request too large");
  });
});

describe("a refused body changes nothing of the sign-in it was aimed at", () => {
  it("the pending request, its login and its consent still work after 413s on both forms", async () => {
    const clientId = await registerPublic(base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const server = { base, mcp: `${base}/mcp` } as Parameters<typeof authorizeUrl>[0];
    const login = await browser.fetch(authorizeUrl(server, { clientId, challenge }));
    const loginPage = await login.text();
    expect(loginPage).toContain('name="username"');

    const before = store.writes.length;
    const refusedLogin = await offer("/login/dev", {
      declared: false,
      contentType: "application/x-www-form-urlencoded",
      browser,
    });
    expect(refusedLogin.response.status).toBe(413);
    expect(changesSince(before)).toEqual([]);

    const signedIn = await browser.submit(base, loginPage, { username: "alice" });
    expect(signedIn.status).toBe(303);
    const consent = await browser.fetch(new URL(signedIn.headers.get("location")!, base).href);
    const consentPage = await consent.text();
    expect(consentPage).toContain('name="decision"');

    const beforeConsent = store.writes.length;
    const refusedConsent = await offer("/consent", {
      declared: true,
      contentType: "application/x-www-form-urlencoded",
      browser,
    });
    expect(refusedConsent.response.status).toBe(413);
    expect(changesSince(beforeConsent)).toEqual([]);

    const allowed = await browser.submit(base, consentPage, { decision: "allow" });
    expect(allowed.status).toBe(303);
    const location = new URL(allowed.headers.get("location")!);
    expect(location.searchParams.get("code")).toBeTruthy();
  });
});
