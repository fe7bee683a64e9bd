/**
 * The demo keeps each person's notes apart, as a real service would: list_notes, the note
 * resources, their list and their completion show only the caller's own notes (by the token's
 * subject), someone else's note reads like one that does not exist, and notes are bounded.
 */
import { describe, expect, it } from "vitest";
import { startServer, type TestServer, tokenFlow } from "../auth/security/support.ts";
import { messagesOf, post } from "../helpers/http.ts";

type Json = Record<string, unknown>;

const SCOPE = "notes:read notes:write";

/** A 2025 session of one person, through a client of their own. */
async function person(server: TestServer, user: string) {
  const { tokens } = await tokenFlow(server, { user, scope: SCOPE });
  const auth = { authorization: `Bearer ${tokens.access_token}` };
  const opened = await post(
    server.mcp,
    {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "demo-test", version: "1" },
      },
    },
    auth,
  );
  expect(opened.status).toBe(200);
  await opened.text();
  const headers = {
    ...auth,
    "mcp-session-id": opened.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  let id = 1;
  const request = async (method: string, params: Json = {}): Promise<Json> => {
    const response = await post(server.mcp, { jsonrpc: "2.0", id: id++, method, params }, headers);
    expect(response.status).toBe(200);
    return ((await messagesOf(response)) as Json[]).at(-1)!;
  };
  return {
    request,
    add: async (text: string) => {
      const reply = await request("tools/call", { name: "add_note", arguments: { text } });
      return (reply.result as { structuredContent: { id: string } }).structuredContent.id;
    },
    list: async () => {
      const reply = await request("tools/call", { name: "list_notes", arguments: {} });
      return (reply.result as { content: { text: string }[] }).content[0]!.text;
    },
  };
}

describe("the demo's notes", () => {
  it("shows each person only their own notes, by tool, resource, list and completion", async () => {
    const server = await startServer();
    const alice = await person(server, "alice");
    const bob = await person(server, "bob");
    const aliceId = await alice.add("alice's secret");
    const bobId = await bob.add("bob's shopping list");
    expect(aliceId).not.toBe(bobId);

    expect(await alice.list()).toBe(`${aliceId}: alice's secret`);
    expect(await bob.list()).toBe(`${bobId}: bob's shopping list`);

    // Reading someone else's note: the answer an unknown note gets, and nothing of its text.
    const theirs = await bob.request("resources/read", { uri: `notes://${aliceId}` });
    const none = await bob.request("resources/read", { uri: "notes://999999" });
    expect(theirs.error).toEqual({
      code: -32002,
      message: `Resource not found: notes://${aliceId}`,
      data: { uri: `notes://${aliceId}` },
    });
    expect(none.error).toMatchObject({ code: -32002 });
    expect(JSON.stringify(theirs)).not.toContain("secret");
    expect(await alice.request("resources/read", { uri: `notes://${aliceId}` })).toMatchObject({
      result: { contents: [{ uri: `notes://${aliceId}`, text: "alice's secret" }] },
    });

    const listed = (await bob.request("resources/list")).result as { resources: Json[] };
    expect(listed.resources.map((resource) => resource.uri)).toEqual([`notes://${bobId}`]);
    const completed = await bob.request("completion/complete", {
      ref: { type: "ref/resource", uri: "notes://{id}" },
      argument: { name: "id", value: "" },
    });
    expect(completed.result).toEqual({ completion: { values: [bobId], total: 1, hasMore: false } });
  });

  it("gives a person the same notes through another client of theirs", async () => {
    const server = await startServer();
    const laptop = await person(server, "alice");
    const phone = await person(server, "alice");
    const id = await laptop.add("written on the laptop");
    expect(await phone.list()).toBe(`${id}: written on the laptop`);
  });

  it("refuses an over-long note and stores nothing", async () => {
    const server = await startServer();
    const alice = await person(server, "alice");
    const reply = await alice.request("tools/call", {
      name: "add_note",
      arguments: { text: "x".repeat(10_001) },
    });
    expect(reply.result).toMatchObject({ isError: true });
    expect(await alice.list()).toBe("(no notes yet)");
  });
});
