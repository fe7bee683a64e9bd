/**
 * A request's time limit leaves out the time spent authorizing: a person who takes a minute
 * in the browser must not see the request that asked them to sign in time out. The limit
 * still holds before and after. Fake timers stand in for the minute; the server is our real
 * app, reached through its fetch, so no real clock runs anywhere in the exchange.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Authorizer } from "../../src/client/auth-seam.ts";
import { McpClient } from "../../src/client/index.ts";
import { McpServer, mcpApp } from "../../src/index.ts";
import { deferred } from "../helpers/async.ts";

afterEach(() => {
  vi.useRealTimers();
});

/** Our server behind a gate that answers 401 until a request carries the token. */
function gatedApp() {
  const mcp = new McpServer({ name: "gated", version: "1.0.0" });
  mcp.tool("hang", {}, () => new Promise<string>(() => undefined));
  const app = new Hono();
  app.use("/mcp", async (c, next) => {
    if (c.req.header("authorization") === "Bearer granted") return next();
    return c.json({ error: "invalid_token" }, 401, { "www-authenticate": "Bearer" });
  });
  app.route("/", mcpApp(mcp, { path: "/mcp" }));
  return app;
}

/** Plays a person signing in: the first 401 waits until the test says they are done. */
function slowSignIn() {
  const done = deferred<void>();
  let granted = false;
  let asked = 0;
  const authorizer: Authorizer = {
    async headers() {
      return granted ? { authorization: "Bearer granted" } : {};
    },
    async onUnauthorized() {
      asked++;
      await done.promise;
      granted = true;
      return true;
    },
    async onForbidden() {
      return false;
    },
  };
  return { authorizer, finish: () => done.resolve(), asked: () => asked };
}

describe("request time limits and sign-in", () => {
  it("stop the clock while the person signs in, and run it again afterwards", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const app = gatedApp();
    const { authorizer, finish, asked } = slowSignIn();
    const client = new McpClient({ name: "t", version: "1", requestTimeoutMs: 1_000 });
    let settled: "pending" | "connected" | Error = "pending";
    const connecting = client
      .connect("http://gated.test/mcp", {
        authorizer,
        fetch: async (input, init) => app.fetch(new Request(input, init)),
        timeoutMs: 1_000,
      })
      .then(
        () => {
          settled = "connected";
        },
        (error: Error) => {
          settled = error;
        },
      );
    await vi.waitFor(() => expect(asked()).toBe(1));
    // A minute in the browser: sixty times the request's limit.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(settled).toBe("pending");
    finish();
    await connecting;
    expect(settled).toBe("connected");
    expect(client.serverInfo?.name).toBe("gated");

    // Signed in, the limit is back: a tool that never answers times out after 1 s.
    const hanging = client.callTool("hang", {}).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await hanging).toMatchObject({ code: "ERR_TIMEOUT" });
    expect(asked()).toBe(1);
    await client.close();
  });
});
