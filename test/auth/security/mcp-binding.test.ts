/**
 * What a caller creates at the MCP endpoint belongs to the token that created it: its issuer,
 * subject and client together. Another client of the same user (or the same subject at another
 * issuer) presenting a 2025 session id, a task id, a multi round-trip requestState or the id of
 * a server-to-client request gets exactly the answer an unknown one gets, and changes nothing.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type AuthInfo, type McpAppOptions, McpServer, mcpApp } from "../../../src/index.ts";
import { memoryStore } from "../../../src/storage/index.ts";
import { listen, messagesOf, post } from "../../helpers/http.ts";
import {
  errorOf,
  inputRequired,
  modernCall,
  modernPost,
  resultOf as modernResult,
} from "../../http/modern-support.ts";
import { SseReader } from "../../http/support.ts";
import { ModernClient, resultOf, SessionClient, TASKS_EXTENSION } from "../../mcp/tasks/support.ts";
import { startServer, tokenFlow } from "./support.ts";

type Json = Record<string, unknown>;

const ISSUER = "https://idp.example";

/**
 * Tokens of a third-party issuer as the resource server sees them once verified: each names
 * an issuer, a subject and a client. `alice2` is another token of alice's client (a refresh):
 * the same caller. The others differ from `alice` in one part only.
 */
const TOKENS: Record<string, { iss: string; sub: string; client: string; scope?: string }> = {
  alice: { iss: ISSUER, sub: "alice", client: "app" },
  reader: { iss: ISSUER, sub: "alice", client: "app", scope: "secret:read" },
  alice2: { iss: ISSUER, sub: "alice", client: "app" },
  otherClient: { iss: ISSUER, sub: "alice", client: "other-app" },
  otherIssuer: { iss: "https://elsewhere.example", sub: "alice", client: "app" },
  otherSubject: { iss: ISSUER, sub: "bob", client: "app" },
};
const INTRUDERS = ["otherClient", "otherIssuer", "otherSubject"] as const;

async function verify(token: string): Promise<AuthInfo | undefined> {
  const known = Object.hasOwn(TOKENS, token) ? TOKENS[token] : undefined;
  if (!known) return undefined;
  return {
    kind: "user",
    subject: known.sub,
    clientId: known.client,
    scopes: known.scope ? [known.scope] : [],
    claims: { iss: known.iss, sub: known.sub, client_id: known.client },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function notesServer(): { mcp: McpServer; runs: () => number; answers: string[] } {
  const mcp = new McpServer({ name: "bound", version: "1.0.0" });
  let runs = 0;
  const answers: string[] = [];
  mcp.tool("hello", {}, () => {
    runs++;
    return "hello";
  });
  mcp.tool("ask", {}, async (_args, ctx) => {
    runs++;
    const answer = await ctx.elicit({ message: "Name?", schema: z.object({ name: z.string() }) });
    answers.push(String(answer.content?.name));
    return `hi ${answer.content?.name}`;
  });
  mcp.tool("slow", { taskSupport: "optional" }, async (_args, ctx) => {
    runs++;
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    return "stopped";
  });
  mcp.resource("secret://plans", { scopes: ["secret:read"] }, () => "the plans");
  return { mcp, runs: () => runs, answers };
}

async function startBound(options: McpAppOptions = {}) {
  const server = notesServer();
  const app = mcpApp(server.mcp, { ...options, auth: { issuer: ISSUER, verify } });
  return { ...server, url: `${await listen(app)}/mcp` };
}

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: { elicitation: { form: {} } },
    clientInfo: { name: "bound-test", version: "1.0.0" },
  },
};

async function openSession(url: string, token: string): Promise<Record<string, string>> {
  const response = await post(url, INITIALIZE, bearer(token));
  expect(response.status).toBe(200);
  await response.text();
  const headers = {
    ...bearer(token),
    "mcp-session-id": response.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  await (await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).text();
  return headers;
}

/** Status and body of a reply, read whole. */
async function replyOf(response: Response): Promise<{ status: number; body: string }> {
  return { status: response.status, body: await response.text() };
}

/** Every way a request can name a session: POST (request, notification, answer), GET, DELETE. */
async function useSession(url: string, headers: Record<string, string>) {
  const call = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "hello" } };
  const send = (init: RequestInit) => fetch(url, init).then(replyOf);
  return {
    request: await replyOf(await post(url, call, headers)),
    notification: await replyOf(
      await post(
        url,
        { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7 } },
        headers,
      ),
    ),
    answer: await replyOf(await post(url, { jsonrpc: "2.0", id: "x", result: {} }, headers)),
    stream: await send({ headers: { ...headers, accept: "text/event-stream" } }),
    end: await send({ method: "DELETE", headers }),
  };
}

describe("2025 sessions belong to the token's issuer, subject and client", () => {
  for (const shared of [false, true]) {
    const label = shared ? "sessions in a shared Store" : "sessions in memory";

    it(`${label}: an intruder gets exactly the unknown-session answer, and changes nothing`, async () => {
      const server = await startBound({
        sessions: shared ? { store: memoryStore() } : true,
      });
      const owner = await openSession(server.url, "alice");
      const unknownId = "0123456789abcdef0123456789abcdef";
      for (const intruder of INTRUDERS) {
        const stranger = await useSession(server.url, {
          ...owner,
          ...bearer(intruder),
          "mcp-session-id": unknownId,
        });
        const attempt = await useSession(server.url, { ...owner, ...bearer(intruder) });
        // Word for word what an id that never existed gets, on every method.
        expect(attempt).toEqual(stranger);
        expect(attempt.request.status).toBe(404);
        expect(JSON.parse(attempt.request.body)).toMatchObject({
          jsonrpc: "2.0",
          id: null,
          error: { code: -32000, message: "Session not found" },
        });
        expect(attempt.end.status).toBe(404);
      }
      // Nothing ran, nothing ended: the session still serves its owner.
      expect(server.runs()).toBe(0);
      const own = await post(
        server.url,
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "hello" } },
        owner,
      );
      expect(own.status).toBe(200);
      expect(await messagesOf(own)).toMatchObject([
        { id: 1, result: { content: [{ text: "hello" }] } },
      ]);
      expect(server.runs()).toBe(1);
    });
  }

  it("keeps serving the same caller with a fresh token (a refresh)", async () => {
    const server = await startBound({ sessions: true });
    const owner = await openSession(server.url, "alice");
    const response = await post(
      server.url,
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { ...owner, ...bearer("alice2") },
    );
    expect(response.status).toBe(200);
    expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
  });

  it("with the built-in authorization server: another client of the same user gets 404", async () => {
    const server = await startServer();
    const first = await tokenFlow(server, { user: "alice", scope: "notes:read notes:write" });
    const second = await tokenFlow(server, { user: "alice", scope: "notes:read notes:write" });
    expect(second.clientId).not.toBe(first.clientId);
    const owner = await openSession(server.mcp, first.tokens.access_token);
    const add = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "add_note", arguments: { text: "written through a borrowed session" } },
    };
    const borrowed = { ...owner, ...bearer(second.tokens.access_token) };
    const refused = await post(server.mcp, add, borrowed);
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({
      error: { code: -32000, message: "Session not found" },
    });
    const end = await fetch(server.mcp, { method: "DELETE", headers: borrowed });
    expect(end.status).toBe(404);
    await end.text();
    // Nothing was written: the owner's session lists no notes, and still works.
    const list = await post(
      server.mcp,
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "list_notes" } },
      owner,
    );
    expect(list.status).toBe(200);
    expect(await messagesOf(list)).toMatchObject([
      { id: 2, result: { content: [{ text: "(no notes yet)" }] } },
    ]);
  });
});

describe("tasks belong to the token's issuer, subject and client", () => {
  it("answers an intruder's tasks/get, tasks/cancel and tasks/list as for an unknown task", async () => {
    const server = await startBound({ sessions: true });
    const alice = await SessionClient.open(server.url, { token: "alice" });
    const created = resultOf(
      await alice.request("tools/call", { name: "slow", arguments: {}, task: {} }),
    );
    const taskId = (created.task as { taskId: string }).taskId;
    const unknown = "A".repeat(43);
    for (const intruder of INTRUDERS) {
      const session = await SessionClient.open(server.url, { token: intruder });
      const modern = new ModernClient(server.url, {
        token: intruder,
        capabilities: { extensions: { [TASKS_EXTENSION]: {} } },
      });
      for (const method of ["tasks/get", "tasks/cancel", "tasks/result"]) {
        const theirs = await session.request(method, { taskId });
        const none = await session.request(method, { taskId: unknown });
        expect(theirs.body.error).toEqual(none.body.error);
        expect(theirs.body.error).toMatchObject({ code: -32602 });
      }
      expect(resultOf(await session.request("tasks/list")).tasks).toEqual([]);
      const viaModern = await modern.request("tasks/get", { taskId });
      expect(viaModern.body.error).toMatchObject({ code: -32602 });
    }
    // Still the owner's, still working.
    const own = resultOf(await alice.request("tasks/get", { taskId }));
    expect(own.status).toBe("working");
    const again = await SessionClient.open(server.url, { token: "alice2" });
    expect(
      (resultOf(await again.request("tasks/list")).tasks as Json[]).map((task) => task.taskId),
    ).toEqual([taskId]);
    resultOf(await alice.request("tasks/cancel", { taskId }));
  });
});

describe("multi round-trip requestState belongs to the token's issuer, subject and client", () => {
  it("refuses another caller's state with -32602 and does not run the tool for it", async () => {
    const server = await startBound();
    const capabilities = { elicitation: { form: {} } };
    const params = { name: "ask", arguments: {} };
    const first = await modernCall(server.url, 1, "tools/call", params, {
      capabilities,
      headers: bearer("alice"),
    });
    const round = inputRequired(first);
    const [key] = Object.keys(round.inputRequests);
    const retry = {
      ...params,
      requestState: round.requestState,
      inputResponses: { [key!]: { action: "accept", content: { name: "mallory" } } },
    };
    const runsBefore = server.runs();
    for (const intruder of INTRUDERS) {
      const reply = await modernCall(server.url, 2, "tools/call", retry, {
        capabilities,
        headers: bearer(intruder),
      });
      // 2026-07-28 carries -32602 with 200, as every error of a well-formed request.
      expect(reply.status).toBe(200);
      expect(errorOf(reply)).toMatchObject({
        code: -32602,
        message: "Invalid requestState: it belongs to another request",
      });
    }
    expect(server.runs()).toBe(runsBefore);
    expect(server.answers).toEqual([]);
    // The owner's next token finishes it.
    const done = await modernCall(
      server.url,
      3,
      "tools/call",
      { ...retry, inputResponses: { [key!]: { action: "accept", content: { name: "alice" } } } },
      { capabilities, headers: bearer("alice2") },
    );
    expect(modernResult(done)).toMatchObject({ content: [{ text: "hi alice" }] });
    expect(server.answers).toEqual(["alice"]);
  });
});

describe("server-to-client requests belong to the caller they went to", () => {
  it("ignores another client's answer to a stateless elicitation; the owner's counts", async () => {
    const server = await startBound();
    const headers = { ...bearer("alice"), "mcp-protocol-version": "2025-11-25" };
    const running = new SseReader(
      await post(
        server.url,
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask" } },
        headers,
      ),
    );
    const ask = (await running.message()) as Json;
    expect(ask).toMatchObject({ method: "elicitation/create" });
    const forged = {
      jsonrpc: "2.0",
      id: ask.id,
      result: { action: "accept", content: { name: "mallory" } },
    };
    for (const intruder of INTRUDERS) {
      const answered = await post(server.url, forged, {
        ...bearer(intruder),
        "mcp-protocol-version": "2025-11-25",
      });
      expect(answered.status).toBe(202);
      await answered.text();
    }
    const real = {
      jsonrpc: "2.0",
      id: ask.id,
      result: { action: "accept", content: { name: "alice" } },
    };
    const answered = await post(server.url, real, headers);
    expect(answered.status).toBe(202);
    await answered.text();
    expect(await running.message()).toMatchObject({
      id: 1,
      result: { content: [{ text: "hi alice" }] },
    });
    expect(server.answers).toEqual(["alice"]);
  });
});

describe("subscriptions/listen needs what reading the resources needs", () => {
  it("answers 403 insufficient_scope for a resource the token may not read, and listens to nothing", async () => {
    const server = await startBound();
    let listeners = 0;
    const listen = server.mcp.listen.bind(server.mcp);
    server.mcp.listen = (listener) => {
      listeners++;
      return listen(listener);
    };
    const notifications = { resourceSubscriptions: ["secret://plans"] };
    const refused = await modernPost(
      server.url,
      1,
      "subscriptions/listen",
      { notifications },
      {
        headers: bearer("alice"),
      },
    );
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(refused.headers.get("www-authenticate")).toContain('scope="secret:read"');
    expect(await refused.json()).toMatchObject({ error: "insufficient_scope" });
    expect(listeners).toBe(0);

    const controller = new AbortController();
    const allowed = await modernPost(
      server.url,
      2,
      "subscriptions/listen",
      { notifications },
      {
        headers: bearer("reader"),
        signal: controller.signal,
      },
    );
    expect(allowed.status).toBe(200);
    const ack = await new SseReader(allowed).message();
    expect(ack).toMatchObject({ params: { notifications } });
    expect(listeners).toBe(1);
    controller.abort();
  });
});
