/**
 * The rest of the protocol through the gateway, against the reference "everything" server
 * over stdio: task-augmented calls (its simulate-research-query tool requires a task),
 * resource subscriptions with the upstream's updates relayed in both eras, and completion of
 * namespaced prompts and resource templates.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../../src/gateway/index.ts";
import { until } from "../helpers/async.ts";
import { post } from "../helpers/http.ts";
import { accessToken, EVERYTHING, recording, signedIn, spawning, startGateway } from "./support.ts";

let base: string;
let gw: Gateway;
const statusOf = (name: string) => gw.status().find((upstream) => upstream.name === name)!;
const subscriptions = (name: string) => statusOf(name).subscriptions;
/** The gateway's traffic with the "everything" upstream. */
const wire = recording(spawning([EVERYTHING, "stdio"]).transport);

beforeAll(async () => {
  ({ base, gw } = await startGateway({
    upstreams: [
      { name: "everything", transport: wire.transport },
      {
        name: "locked",
        transport: spawning([EVERYTHING, "stdio"]).transport,
        requiredScopes: ["locked:read"],
      },
    ],
  }));
}, 60_000);

const texts = (result: { content: unknown[] }) =>
  result.content.map((block) => (block as { text?: string }).text ?? "").join("\n");

const DOC = "everything+demo://resource/static/document/features.md";

describe("completion through the gateway", () => {
  it("completes a namespaced prompt's arguments upstream, with context", async () => {
    const { client } = await signedIn(base);
    const ref = { type: "ref/prompt" as const, name: "everything_completable-prompt" };
    const first = await client.complete(ref, { name: "department", value: "E" });
    expect(first.completion.values).toEqual(["Engineering"]);
    const second = await client.complete(
      ref,
      { name: "name", value: "" },
      { context: { department: "Sales" } },
    );
    expect(second.completion.values).toEqual(["David", "Eve", "Frank"]);
  });

  it("completes a namespaced template's variables upstream", async () => {
    const { client } = await signedIn(base, { protocolVersion: "2025-11-25" });
    const ref = {
      type: "ref/resource" as const,
      uri: "everything+demo://resource/dynamic/text/{resourceId}",
    };
    expect(
      (await client.complete(ref, { name: "resourceId", value: "12" })).completion.values,
    ).toEqual(["12"]);
    expect(
      (await client.complete(ref, { name: "resourceId", value: "x" })).completion.values,
    ).toEqual([]);
  });

  it("refuses completion of an unknown prompt and of one the token's scopes do not reach", async () => {
    const { client } = await signedIn(base, { narrowScope: () => "" });
    const unknown = await client
      .complete(
        { type: "ref/prompt", name: "elsewhere_completable-prompt" },
        {
          name: "department",
          value: "E",
        },
      )
      .catch((error: unknown) => error);
    expect(unknown).toMatchObject({ code: -32602 });
    const locked = await client
      .complete(
        { type: "ref/prompt", name: "locked_completable-prompt" },
        {
          name: "department",
          value: "E",
        },
      )
      .catch((error: unknown) => error);
    expect(locked).toBeInstanceOf(Error);
    expect(locked).not.toMatchObject({ completion: expect.anything() });
  });
});

describe("resource subscriptions through the gateway", () => {
  for (const protocolVersion of ["2026-07-28", "2025-11-25"]) {
    it(`relays the upstream's updates under the published URI (${protocolVersion})`, async () => {
      const updated: string[] = [];
      const { client } = await signedIn(base, {
        protocolVersion,
        onResourceUpdated: (uri) => updated.push(uri),
      });
      const watching: string[] = [];
      const { client: other } = await signedIn(base, {
        protocolVersion,
        onResourceUpdated: (uri) => watching.push(uri),
      });
      await client.subscribe(DOC);
      // The everything server sends one update at once, then one every 5 s, while toggled on.
      const on = await client.callTool("everything_toggle-subscriber-updates");
      expect(texts(on)).toContain("Started");
      try {
        await until(() => updated.length > 0, 10_000);
        expect(updated[0]).toBe(DOC);
        // A client that did not subscribe hears nothing of it.
        expect(watching).toEqual([]);
      } finally {
        const off = await client.callTool("everything_toggle-subscriber-updates");
        expect(texts(off)).toContain("Stopped");
      }
      await other.close();
    });
  }

  it("does not subscribe upstream for a caller who may not read the resource", async () => {
    const token = await accessToken(base, "");
    const uri = "locked+demo://resource/static/document/features.md";
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const response = await post(
      `${base}/mcp`,
      {
        jsonrpc: "2.0",
        id: 1,
        method: "subscriptions/listen",
        params: { notifications: { resourceSubscriptions: [uri] }, _meta: meta },
      },
      {
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "subscriptions/listen",
      },
    );
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain("locked:read");
    await response.body?.cancel();
    expect(subscriptions("locked")).toBe(0);
    expect(subscriptions("everything")).toBeGreaterThan(0);
  });
});

describe("tasks through the gateway", () => {
  const TOOL = "everything_simulate-research-query";

  for (const protocolVersion of ["2026-07-28", "2025-11-25"]) {
    it(`runs an upstream tool that requires a task as a gateway task (${protocolVersion})`, async () => {
      const { client } = await signedIn(base, { protocolVersion });
      if (protocolVersion === "2025-11-25") {
        let support: unknown;
        for await (const tool of client.tools()) {
          if (tool.name === TOOL) support = (tool as { execution?: unknown }).execution;
        }
        expect(support).toEqual({ taskSupport: "required" });
      }
      const task = await client.startTool(TOOL, { topic: "gateways" });
      expect(task.id).toEqual(expect.any(String));
      const result = await task.result();
      expect(result.isError).toBeFalsy();
      expect(texts(result)).toContain("gateways");
      expect((await client.getTask(task.id!)).status).toBe("completed");
    });
  }

  it("keeps a task to its caller: another user can neither see nor cancel it", async () => {
    const { client: alice } = await signedIn(base, { protocolVersion: "2025-11-25" });
    const { client: mallory } = await signedIn(base, {
      user: "mallory",
      protocolVersion: "2025-11-25",
    });
    const task = await alice.startTool(TOOL, { topic: "secrets" });
    const seen = await mallory.getTask(task.id!).catch((error: unknown) => error);
    expect(seen).toMatchObject({ code: -32602 });
    const cancelled = await mallory.cancelTask(task.id!).catch((error: unknown) => error);
    expect(cancelled).toMatchObject({ code: -32602 });
    const listed: string[] = [];
    for await (const info of mallory.tasks()) listed.push(info.taskId);
    expect(listed).not.toContain(task.id);
    // Alice's task went on untouched.
    expect(texts(await task.result())).toContain("secrets");
  });

  it("cancels a task at the gateway, and with it the upstream's own task", async () => {
    const { client } = await signedIn(base, { protocolVersion: "2025-11-25" });
    const task = await client.startTool(TOOL, { topic: "cancelled" });
    // The forwarded call reached the upstream, which made a task of its own.
    const call = await waitFor(() =>
      wire.sent.find(
        (m) =>
          m.method === "tools/call" &&
          (m.params?.arguments as { topic?: string } | undefined)?.topic === "cancelled",
      ),
    );
    const created = await waitFor(
      () => wire.received.find((m) => m.id === call.id && m.result)?.result?.task,
    );
    const upstreamTask = (created as { taskId: string }).taskId;
    expect(statusOf("everything").inFlight).toBe(1);

    await task.cancel();
    expect((await client.getTask(task.id!)).status).toBe("cancelled");
    // Our client cancelled the upstream's task, and the upstream says it is cancelled.
    const cancel = await waitFor(() =>
      wire.sent.find((m) => m.method === "tasks/cancel" && m.params?.taskId === upstreamTask),
    );
    const acknowledged = await waitFor(() =>
      wire.received.find((m) => m.id === cancel.id && (m.result || m.error)),
    );
    expect(acknowledged.error).toBeUndefined();
    expect(acknowledged.result).toMatchObject({ taskId: upstreamTask, status: "cancelled" });
    await until(() => statusOf("everything").inFlight === 0);
    // The upstream never delivered the research: the call ended by cancellation, not by result.
    expect(JSON.stringify(wire.received)).not.toContain("Research Report: cancelled");
  });
});

/** Resolves with `probe`'s first defined answer, looked for after each turn of I/O. */
async function waitFor<T>(probe: () => T | undefined): Promise<T> {
  let found: T | undefined;
  await until(() => (found = probe()) !== undefined);
  return found as T;
}
