/** The seam the OAuth authorizer plugs into: headers on every request, retries on 401 and 403. */
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { Authorizer, McpClient } from "../../src/client/index.ts";
import { mcpApp, memoryEventStore } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { client, type FetchCall, getStreamOpen, recordingFetch, richServer } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/**
 * Our server behind a gate: "Bearer good" or "Bearer admin" may pass, and calling the tool
 * "fail" needs admin (403 otherwise), like a step-up scope.
 */
async function guardedServer(): Promise<string> {
  const { mcp } = richServer();
  const app = new Hono();
  app.use("/mcp", async (c, next) => {
    const token = c.req.header("authorization")?.replace(/^Bearer /, "");
    if (token !== "good" && token !== "admin") {
      return c.json({ error: "invalid_token" }, 401, {
        "WWW-Authenticate": 'Bearer error="invalid_token"',
      });
    }
    if (c.req.method === "POST" && token !== "admin") {
      const body = (await c.req.raw.clone().json()) as {
        method?: string;
        params?: { name?: string };
      };
      if (body.method === "tools/call" && body.params?.name === "fail") {
        return c.json({ error: "insufficient_scope" }, 403, {
          "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"',
        });
      }
    }
    await next();
  });
  app.route("/", mcpApp(mcp, { sessions: true, eventStore: memoryEventStore() }));
  return `${await listen(app)}/mcp`;
}

class TestAuthorizer implements Authorizer {
  token: string;
  readonly challenges: string[] = [];
  forbidden = 0;
  constructor(
    token: string,
    readonly refreshTo: string | undefined,
  ) {
    this.token = token;
  }
  async headers(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${this.token}` };
  }
  async onUnauthorized(response: Response): Promise<boolean> {
    this.challenges.push(response.headers.get("www-authenticate") ?? "");
    if (this.refreshTo === undefined) return false;
    this.token = this.refreshTo;
    return true;
  }
  async onForbidden(response: Response): Promise<boolean> {
    this.forbidden++;
    expect(response.headers.get("www-authenticate")).toContain("insufficient_scope");
    this.token = "admin";
    return true;
  }
}

const bearer = (call: FetchCall) => call.headers.get("authorization");

describe("authorizer", () => {
  it("a 401 lets the authorizer refresh, then every request carries the new token", async () => {
    const url = await guardedServer();
    const authorizer = new TestAuthorizer("stale", "good");
    const recorder = recordingFetch();
    // 2025-11-25, for its GET stream and DELETE: every kind of request the client makes.
    const { client: c } = client({ protocolVersion: "2025-11-25" });
    await c.connect(url, { authorizer, fetch: recorder.fetch, listen: true });
    await until(() => getStreamOpen(recorder.calls));
    await c.ping();
    await c.close();
    expect(authorizer.challenges).toEqual(['Bearer error="invalid_token"']);
    const [first, ...rest] = recorder.calls;
    expect(first).toMatchObject({ status: 401 });
    expect(bearer(first!)).toBe("Bearer stale");
    expect(new Set(rest.map((call) => call.method))).toEqual(new Set(["POST", "GET", "DELETE"]));
    for (const call of rest) expect(bearer(call)).toBe("Bearer good");
    expect(rest.at(-1)).toMatchObject({ method: "DELETE", status: 200 });
  });

  it("in 2026-07-28 too, the refreshed token goes with every request after the 401", async () => {
    const url = await guardedServer();
    const authorizer = new TestAuthorizer("stale", "good");
    const recorder = recordingFetch();
    const { client: c } = client({ onToolsChanged: () => undefined });
    await c.connect(url, { authorizer, fetch: recorder.fetch });
    open.push(c);
    expect(c.protocolVersion).toBe("2026-07-28");
    await c.callTool("echo", { text: "x" });
    expect(authorizer.challenges).toEqual(['Bearer error="invalid_token"']);
    const [first, ...rest] = recorder.calls;
    expect(first).toMatchObject({ status: 401 });
    const methods = rest.map((call) => call.body && JSON.parse(call.body).method);
    expect(methods).toEqual(["server/discover", "subscriptions/listen", "tools/call"]);
    for (const call of rest) expect(bearer(call)).toBe("Bearer good");
  });

  it("a 403 lets the authorizer step up, and the call goes through", async () => {
    const url = await guardedServer();
    const authorizer = new TestAuthorizer("good", "good");
    const { client: c } = client();
    await c.connect(url, { authorizer });
    open.push(c);
    expect((await c.callTool("fail")).isError).toBe(true);
    expect(authorizer.forbidden).toBe(1);
    expect(authorizer.token).toBe("admin");
  });

  it("an authorizer that gives up leaves ERR_UNAUTHORIZED", async () => {
    const url = await guardedServer();
    const authorizer = new TestAuthorizer("stale", undefined);
    const { client: c } = client();
    await expect(c.connect(url, { authorizer })).rejects.toMatchObject({
      name: "TransportError",
      code: "ERR_UNAUTHORIZED",
      status: 401,
    });
    expect(authorizer.challenges).toHaveLength(1);
  });

  it("an authorizer that keeps saying retry is stopped after 3 retries", async () => {
    const url = await guardedServer();
    const authorizer = new TestAuthorizer("stale", "still-bad");
    const { client: c } = client();
    await expect(c.connect(url, { authorizer })).rejects.toMatchObject({
      code: "ERR_UNAUTHORIZED",
    });
    expect(authorizer.challenges).toHaveLength(3);
  });

  it("without an authorizer a 401 is ERR_UNAUTHORIZED at once", async () => {
    const url = await guardedServer();
    const { client: c } = client();
    await expect(c.connect(url)).rejects.toMatchObject({ code: "ERR_UNAUTHORIZED" });
  });
});
