import { createExecutionContext, listDurableObjectIds, SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker, { type DemoEnv } from "../../examples/workers/index.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

const base = "http://localhost";
const mcp = `${base}/mcp`;
// The demo Worker with MCP_STATEFUL switched on, called as the runtime would call it.
const stateful = { ...(env as unknown as DemoEnv), MCP_STATEFUL: "true" };
const call = (request: Request) => worker.fetch(request, stateful, createExecutionContext());

async function accessToken(): Promise<string> {
  const grant = await authorizeWithDevLogin(base, {
    fetch: (input, init) => SELF.fetch(input, init),
    scope: "notes:read notes:write",
    resource: mcp,
  });
  const response = await SELF.fetch(
    `${base}/token`,
    form({
      grant_type: "authorization_code",
      code: grant.code,
      code_verifier: grant.verifier,
      client_id: grant.clientId,
      redirect_uri: grant.redirectUri,
      resource: mcp,
    }),
  );
  return ((await response.json()) as { access_token: string }).access_token;
}

function post(token: string, body: unknown, session?: string): Request {
  return new Request(mcp, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
      "mcp-protocol-version": "2025-11-25",
      ...(session ? { "mcp-session-id": session } : {}),
    },
    body: JSON.stringify(body),
  });
}

const initialize = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "stateful-test", version: "1.0.0" },
  },
};

async function open(token: string): Promise<string> {
  const response = await call(post(token, initialize));
  expect(response.status).toBe(200);
  await response.text();
  const session = response.headers.get("mcp-session-id");
  expect(session).toMatch(/^[0-9a-f]{64}\.[0-9a-f]+$/);
  const initialized = await call(
    post(token, { jsonrpc: "2.0", method: "notifications/initialized" }, session!),
  );
  expect(initialized.status).toBe(202);
  return session!;
}

/** Reads an SSE body until a data line contains `needle`; the text read so far. */
async function readUntil(body: ReadableStream<Uint8Array>, needle: string): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + 10_000;
  while (!text.includes(needle) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

describe("stateful MCP sessions through Durable Objects (MCP_STATEFUL=true)", () => {
  it("runs inside workerd", () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
  });

  it("keeps a session, its GET stream and subscriptions in one object per session", async () => {
    const token = await accessToken();
    const before = (await listDurableObjectIds(stateful.MCP_SESSIONS)).length;
    const session = await open(token);
    const other = await open(token);
    expect(other.split(".")[0]).not.toBe(session.split(".")[0]);
    expect((await listDurableObjectIds(stateful.MCP_SESSIONS)).length - before).toBe(2);

    const stream = await call(
      new Request(mcp, {
        headers: {
          accept: "text/event-stream",
          authorization: `Bearer ${token}`,
          "mcp-protocol-version": "2025-11-25",
          "mcp-session-id": session,
        },
      }),
    );
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");

    const subscribed = await call(
      post(
        token,
        { jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "notes://1" } },
        session,
      ),
    );
    expect(subscribed.status).toBe(200);
    await subscribed.text();
    const added = await call(
      post(
        token,
        {
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "add_note", arguments: { text: "kept in a session object" } },
        },
        session,
      ),
    );
    expect(await added.text()).toContain('"structuredContent":{"id":"1"}');
    // The change notification reaches the session's own GET stream.
    expect(await readUntil(stream.body!, "notifications/resources/updated")).toContain(
      '"uri":"notes://1"',
    );

    const ended = await call(
      new Request(mcp, {
        method: "DELETE",
        headers: {
          authorization: `Bearer ${token}`,
          "mcp-protocol-version": "2025-11-25",
          "mcp-session-id": session,
        },
      }),
    );
    expect(ended.status).toBeLessThan(300);
    const afterEnd = await call(post(token, { jsonrpc: "2.0", id: 3, method: "ping" }, session));
    expect(afterEnd.status).toBe(404);
    const still = await call(post(token, { jsonrpc: "2.0", id: 4, method: "ping" }, other));
    expect(still.status).toBe(200);
  });

  it("answers 404 to session ids it did not mint", async () => {
    const token = await accessToken();
    const ping = { jsonrpc: "2.0", id: 1, method: "ping" };
    for (const forged of ["abc", `${"0".repeat(64)}.abc`, ".abc"]) {
      expect((await call(post(token, ping, forged))).status).toBe(404);
    }
    // A real object id, but no session in it.
    const unused = stateful.MCP_SESSIONS.newUniqueId().toString();
    expect((await call(post(token, ping, `${unused}.abc`))).status).toBe(404);
  });

  it("leaves OAuth, metadata and stateless requests to the Worker", async () => {
    const metadata = await call(new Request(`${base}/.well-known/oauth-authorization-server`));
    expect(metadata.status).toBe(200);
    const unauthenticated = await call(
      new Request(mcp, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      }),
    );
    expect(unauthenticated.status).toBe(401);
  });
});
