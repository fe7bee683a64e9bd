import { describe, expect, it } from "vitest";
import { z } from "zod";
import { authorizationServer, devLogin } from "../../../src/auth/index.ts";
import { type AuthInfo, McpServer, mcpApp, Peer } from "../../../src/index.ts";
import { memoryStore } from "../../../src/storage/index.ts";
import { listen } from "../../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../../helpers/oauth.ts";
import { call, error, exchange, result } from "../support.ts";
import {
  deferred,
  errorOf,
  eventually,
  type Json,
  ModernClient,
  resultOf,
  SessionClient,
  TASKS_EXTENSION,
} from "./support.ts";

function server(pageSize = 100) {
  const mcp = new McpServer({ name: "owned", version: "1.0.0", pageSize });
  const gate = deferred<string>();
  const aborted: string[] = [];
  mcp.tool(
    "slow",
    { input: z.object({ label: z.string() }), taskSupport: "optional" },
    async ({ label }, ctx) => {
      ctx.signal.addEventListener("abort", () => aborted.push(label));
      return `done ${label}: ${await gate.promise}`;
    },
  );
  mcp.tool("confirm", { taskSupport: "required" }, async (_args, ctx) => {
    await ctx.startTask();
    const answer = await ctx.elicit({ message: "Sure?", schema: z.object({ ok: z.boolean() }) });
    return `ok: ${answer.content?.ok}`;
  });
  return { mcp, gate, aborted };
}

/** What a transport hands the server for a caller with this subject (none: anonymous). */
function as(subject: string | undefined, version = "2025-11-25") {
  const peer = new Peer(version);
  peer.clientCapabilities = { elicitation: { form: {} }, extensions: { [TASKS_EXTENSION]: {} } };
  const auth: AuthInfo | undefined =
    subject === undefined ? undefined : { kind: "user", subject, scopes: [], clientId: "c" };
  return { ...exchange(peer), auth };
}

async function startTask(mcp: McpServer, who: ReturnType<typeof as>, label: string) {
  const created = await result(
    mcp,
    "tools/call",
    { name: "slow", arguments: { label }, task: {} },
    who,
  );
  return (created.task as { taskId: string }).taskId;
}

describe("tasks belong to the caller that created them", () => {
  it("answers someone else's task id exactly like an unknown one, and changes nothing", async () => {
    const { mcp, aborted } = server();
    const alice = as("alice");
    const taskId = await startTask(mcp, alice, "a");
    const unknown = "Z".repeat(43);
    for (const stranger of [as("bob"), as(undefined)]) {
      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
        const theirs = await error(mcp, method, { taskId }, stranger);
        const nobodys = await error(mcp, method, { taskId: unknown }, stranger);
        expect(theirs).toEqual(nobodys);
        expect(theirs.code).toBe(-32602);
      }
    }
    expect(aborted).toEqual([]);
    expect(await result(mcp, "tasks/get", { taskId }, alice)).toMatchObject({ status: "working" });
  });

  it("keeps tasks/update of the extension to the owner", async () => {
    const { mcp } = server();
    const alice = as("alice", "2026-07-28");
    const created = await result(mcp, "tools/call", { name: "confirm", arguments: {} }, alice);
    const taskId = created.taskId as string;
    const waiting = await eventually(
      () => result(mcp, "tasks/get", { taskId }, alice),
      (task) => task.status === "input_required",
    );
    const key = Object.keys(waiting.inputRequests as Json)[0]!;
    const answer = { [key]: { action: "accept", content: { ok: true } } };
    const refused = await error(
      mcp,
      "tasks/update",
      { taskId, inputResponses: answer },
      as("mallory", "2026-07-28"),
    );
    expect(refused).toEqual({ code: -32602, message: "Failed to retrieve task: Task not found" });
    const still = await result(mcp, "tasks/get", { taskId }, alice);
    expect(still.status).toBe("input_required");
    expect(Object.keys(still.inputRequests as Json)).toEqual([key]);
    await result(mcp, "tasks/update", { taskId, inputResponses: answer }, alice);
  });

  it("lists only the caller's tasks, a page at a time", async () => {
    const { mcp } = server(2);
    const alice = as("alice");
    const bob = as("bob");
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push(await startTask(mcp, alice, `a${i}`));
    const bobs = await startTask(mcp, bob, "b0");

    const seen: string[] = [];
    let cursor: unknown;
    let pages = 0;
    do {
      const page = await result(mcp, "tasks/list", cursor ? { cursor } : {}, alice);
      pages++;
      seen.push(...(page.tasks as Json[]).map((task) => task.taskId as string));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(mine);

    const bobList = await result(mcp, "tasks/list", {}, bob);
    expect((bobList.tasks as Json[]).map((task) => task.taskId)).toEqual([bobs]);
    expect(bobList).not.toHaveProperty("nextCursor");

    expect((await error(mcp, "tasks/list", { cursor: "not-a-cursor" }, alice)).code).toBe(-32602);
    expect((await error(mcp, "tasks/list", {}, as(undefined))).code).toBe(-32601);
  });

  it("advertises tasks/list only to an authenticated caller", async () => {
    const { mcp } = server();
    const initialize = (who: ReturnType<typeof as>) =>
      call(
        mcp,
        "initialize",
        {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "t", version: "1" },
        },
        who,
      );
    const signedIn = await initialize(as("alice"));
    const anonymous = await initialize(as(undefined));
    expect((signedIn as { result: Json }).result.capabilities).toMatchObject({
      tasks: { list: {}, cancel: {} },
    });
    expect(
      ((anonymous as { result: Json }).result.capabilities as { tasks: Json }).tasks,
    ).not.toHaveProperty("list");
  });
});

/** An access token for `user` from the built-in authorization server, through dev login. */
async function tokenFor(base: string, user: string): Promise<string> {
  const flow = await authorizeWithDevLogin(base, { user });
  const response = await fetch(
    `${base}/token`,
    form({
      grant_type: "authorization_code",
      code: flow.code,
      code_verifier: flow.verifier,
      client_id: flow.clientId,
      redirect_uri: flow.redirectUri,
    }),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("tasks behind the built-in authorization server", () => {
  it("binds tasks to the token's subject, over HTTP, in both revisions", async () => {
    const { mcp, gate } = server();
    const as = authorizationServer({ store: memoryStore(), login: devLogin() });
    const base = await listen(mcpApp(mcp, { sessions: true, auth: as }));
    const url = `${base}/mcp`;
    const aliceToken = await tokenFor(base, "alice");
    const bobToken = await tokenFor(base, "bob");

    const alice = await SessionClient.open(url, { token: aliceToken });
    const bob = await SessionClient.open(url, { token: bobToken });
    expect((alice.initializeResult.capabilities as Json).tasks).toMatchObject({ list: {} });

    const created = resultOf(
      await alice.request("tools/call", { name: "slow", arguments: { label: "x" }, task: {} }),
    );
    const taskId = (created.task as { taskId: string }).taskId;
    expect(errorOf(await bob.request("tasks/get", { taskId })).code).toBe(-32602);
    expect(errorOf(await bob.request("tasks/cancel", { taskId })).code).toBe(-32602);
    expect(resultOf(await bob.request("tasks/list")).tasks).toEqual([]);
    expect(
      (resultOf(await alice.request("tasks/list")).tasks as Json[]).map((task) => task.taskId),
    ).toEqual([taskId]);

    // The same task seen through 2026-07-28 requests with the same tokens.
    const aliceModern = new ModernClient(url, { token: aliceToken });
    const bobModern = new ModernClient(url, { token: bobToken });
    expect(errorOf(await bobModern.request("tasks/get", { taskId })).code).toBe(-32602);
    gate.resolve("mine");
    const done = await aliceModern.waitFor(taskId, "completed");
    expect(done.result).toMatchObject({ content: [{ text: "done x: mine" }] });
  });
});
