/**
 * The gateway in front of a 2026-07-28 upstream (the project's conformance server over stdio),
 * spoken to at the 2026-07-28 wire: an upstream's input round reaches the caller as one round
 * under the upstream's keys, the tasks extension is declared upstream only for callers who
 * declared it, an upstream task's failure or input shows on the gateway's task, and an
 * un-namespaced upstream's Skills pass through.
 */
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/mcp/types.ts";
import { StdioClientTransport } from "../../src/node/index.ts";
import { eventually } from "../helpers/async.ts";
import { manualClock } from "../helpers/clock.ts";
import { messagesOf, post } from "../helpers/http.ts";
import { accessToken, startGateway } from "./support.ts";

const SERVER = fileURLToPath(new URL("../../examples/conformance-server.ts", import.meta.url));
const TASKS = "io.modelcontextprotocol/tasks";
const INPUT_TTL_MS = 60_000;
const clock = manualClock();

let base: string;
/** A second gateway: the same server published as it is, its use needing `kit:read`. */
let plainBase: string;
let alice: string;
let mallory: string;
/** Upstream calls in flight: parked ones included. */
let parked: () => number;

beforeAll(async () => {
  const started = await startGateway({
    clock: clock.now,
    inputTtlMs: INPUT_TTL_MS,
    upstreams: [
      {
        name: "up",
        transport: () =>
          new StdioClientTransport({
            command: process.execPath,
            args: ["--import", "tsx", SERVER, "--stdio"],
            stderr: "ignore",
          }),
      },
    ],
  });
  base = started.base;
  plainBase = (
    await startGateway({
      upstreams: [
        {
          name: "plain",
          namespace: false,
          requiredScopes: ["kit:read"],
          transport: () =>
            new StdioClientTransport({
              command: process.execPath,
              args: ["--import", "tsx", SERVER, "--stdio"],
              stderr: "ignore",
            }),
        },
      ],
    })
  ).base;
  parked = () => started.gw.status()[0]!.inFlight;
  alice = await accessToken(base, "");
  mallory = await accessToken(base, "", "mallory");
}, 60_000);

const EVERYTHING_CAPABILITIES = { elicitation: { form: {} }, sampling: {}, roots: {} };

/** One 2026-07-28 request, raw: its JSON-RPC response. */
async function send(
  token: string,
  method: string,
  params: JsonObject,
  capabilities: JsonObject = EVERYTHING_CAPABILITIES,
  at = base,
): Promise<JsonObject> {
  const name = typeof params.name === "string" ? params.name : (params.taskId ?? params.uri);
  const response = await post(
    `${at}/mcp`,
    {
      jsonrpc: "2.0",
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
          "io.modelcontextprotocol/clientCapabilities": capabilities,
        },
      },
    },
    {
      authorization: `Bearer ${token}`,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof name === "string" && { "mcp-name": name }),
    },
  );
  return (await messagesOf(response)).at(-1) as JsonObject;
}

const withTasks = { ...EVERYTHING_CAPABILITIES, extensions: { [TASKS]: {} } };
const task = (token: string, method: string, params: JsonObject) =>
  send(token, method, params, withTasks).then((reply) => reply.result as JsonObject);

const MULTIPLE = "up_test_input_required_result_multiple_inputs";
const ANSWERS = {
  user_name: { action: "accept", content: { name: "Alice" } },
  greeting: {
    role: "assistant",
    model: "test",
    content: { type: "text", text: "Hello there" },
  },
  client_roots: { roots: [{ uri: "file:///alice", name: "home" }] },
};

describe("an upstream's input round, for a 2026-07-28 caller", () => {
  it("is one round with all the upstream's questions under the upstream's keys", async () => {
    const first = (await send(alice, "tools/call", { name: MULTIPLE, arguments: {} }))
      .result as JsonObject;
    expect(first.resultType).toBe("input_required");
    const requests = first.inputRequests as Record<string, { method: string }>;
    expect(Object.keys(requests).sort()).toEqual(["client_roots", "greeting", "user_name"]);
    expect(requests.user_name!.method).toBe("elicitation/create");
    expect(requests.greeting!.method).toBe("sampling/createMessage");
    expect(requests.client_roots!.method).toBe("roots/list");
    expect(typeof first.requestState).toBe("string");

    const done = (
      await send(alice, "tools/call", {
        name: MULTIPLE,
        arguments: {},
        inputResponses: ANSWERS,
        requestState: first.requestState,
      })
    ).result as { resultType: string; content: { text: string }[] };
    expect(done.resultType).toBe("complete");
    const text = done.content.map((c) => c.text).join("\n");
    expect(text).toContain("Alice");
    expect(text).toContain("Hello there");
  });

  it("asks the upstream only what the caller declared it can answer", async () => {
    const first = (
      await send(
        alice,
        "tools/call",
        { name: "up_test_input_required_result_capabilities", arguments: {} },
        { sampling: {} },
      )
    ).result as JsonObject;
    expect(first.resultType).toBe("input_required");
    expect(Object.keys(first.inputRequests as JsonObject)).toEqual(["hello"]);
  });

  it("keeps a parked call to its caller: another's retry is refused, a replay finds it gone", async () => {
    const first = (await send(alice, "tools/call", { name: MULTIPLE, arguments: {} }))
      .result as JsonObject;
    const retry = { name: MULTIPLE, arguments: {}, inputResponses: ANSWERS };
    // Mallory holding Alice's sealed state: bound to Alice, refused.
    const stolen = await send(mallory, "tools/call", {
      ...retry,
      requestState: first.requestState,
    });
    expect(stolen.error).toMatchObject({ code: -32602 });
    // Mallory's own state resumes only Mallory's own upstream call.
    const hers = (await send(mallory, "tools/call", { name: MULTIPLE, arguments: {} }))
      .result as JsonObject;
    expect(hers.requestState).not.toBe(first.requestState);

    const done = (await send(alice, "tools/call", { ...retry, requestState: first.requestState }))
      .result as JsonObject;
    expect(done.resultType).toBe("complete");
    // The same state again: its upstream call has been resumed and finished.
    const replayed = await send(alice, "tools/call", {
      ...retry,
      requestState: first.requestState,
    });
    expect(replayed.error).toMatchObject({ code: -32602 });
    expect(JSON.stringify(replayed.error)).toContain("gone");
  });
});

describe("upstream tasks through the gateway (2026-07-28)", () => {
  it("gives a caller without the tasks extension the upstream's -32021", async () => {
    const refused = await send(alice, "tools/call", { name: "up_failing_job", arguments: {} });
    expect(refused.error).toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { extensions: { [TASKS]: {} } } },
    });
    // The same call from a caller who declared it becomes a task.
    const created = await task(alice, "tools/call", { name: "up_failing_job", arguments: {} });
    expect(created.resultType).toBe("task");
    await send(alice, "tasks/cancel", { taskId: created.taskId }, withTasks);
  });

  it("shows an upstream task that failed as failed, with the upstream's error", async () => {
    const created = await task(alice, "tools/call", {
      name: "up_protocol_error_job",
      arguments: {},
    });
    expect(created.resultType).toBe("task");
    const ended = await eventually(
      () => task(alice, "tasks/get", { taskId: created.taskId }),
      (info) => info.status !== "working",
      400,
      25,
    );
    expect(ended.status).toBe("failed");
    expect(ended.error).toMatchObject({ code: -32603, message: "Protocol task failed" });
    expect(ended).not.toHaveProperty("result");
  });

  it("shows an upstream task waiting for input as input_required, done once answered", async () => {
    const created = await task(alice, "tools/call", {
      name: "up_confirm_delete",
      arguments: { filename: "a.txt" },
    });
    expect(created.resultType).toBe("task");
    const waiting = await eventually(
      () => task(alice, "tasks/get", { taskId: created.taskId }),
      (info) => info.status !== "working",
      400,
      25,
    );
    expect(waiting.status).toBe("input_required");
    const requests = waiting.inputRequests as Record<
      string,
      { method: string; params: JsonObject }
    >;
    const keys = Object.keys(requests);
    // The upstream task's own key (our server numbers a task's unnamed questions).
    expect(keys).toEqual(["task-input-0"]);
    expect(requests[keys[0]!]!.method).toBe("elicitation/create");
    expect(requests[keys[0]!]!.params.message).toBe("Delete a.txt?");

    // Another caller cannot answer it, nor see it.
    const intruder = await send(
      mallory,
      "tasks/update",
      { taskId: created.taskId, inputResponses: { [keys[0]!]: { action: "accept" } } },
      withTasks,
    );
    expect(intruder.error).toMatchObject({ code: -32602 });

    const ack = await task(alice, "tasks/update", {
      taskId: created.taskId,
      inputResponses: { [keys[0]!]: { action: "accept", content: { confirm: true } } },
    });
    expect(ack.resultType).toBe("complete");
    const done = await eventually(
      () => task(alice, "tasks/get", { taskId: created.taskId }),
      (info) => info.status === "completed" || info.status === "failed",
      400,
      25,
    );
    expect(done.status).toBe("completed");
    expect(JSON.stringify(done.result)).toContain("Deleted a.txt");
  });
});

describe("a parked call nobody comes back for", () => {
  it("expires on the gateway's clock and is cancelled upstream", async () => {
    const before = parked();
    const first = (await send(alice, "tools/call", { name: MULTIPLE, arguments: {} }))
      .result as JsonObject;
    expect(first.resultType).toBe("input_required");
    expect(parked()).toBe(before + 1);
    clock.advance(INPUT_TTL_MS + 1);
    const late = await send(alice, "tools/call", {
      name: MULTIPLE,
      arguments: {},
      inputResponses: ANSWERS,
      requestState: first.requestState,
    });
    expect(late.error).toMatchObject({ code: -32602 });
    // The next forwarded request sweeps it: the upstream call is cancelled.
    const greeted = await send(alice, "tools/call", { name: "up_greet", arguments: { name: "A" } });
    expect(JSON.stringify(greeted.result)).toContain("Hello, A!");
    // Every call parked before the clock moved (Mallory's too) was swept.
    await eventually(
      async () => parked(),
      (n) => n === 0,
    );
  });
});

describe("Skills (SEP-2640) through the gateway", () => {
  const SKILLS = "io.modelcontextprotocol/skills";
  const PDF = "skill://pdf-processing/SKILL.md";
  const plain = (token: string, method: string, params: JsonObject = {}) =>
    send(token, method, params, EVERYTHING_CAPABILITIES, plainBase);

  it("forwards an un-namespaced upstream's skills, get and directory reads", async () => {
    const kit = await accessToken(plainBase, "kit:read");
    const discovered = (await plain(kit, "server/discover")).result as {
      capabilities: { extensions?: JsonObject };
    };
    expect(discovered.capabilities.extensions?.[SKILLS]).toEqual({ directoryRead: true });
    const listed = (await plain(kit, "skills/list")).result as {
      skills: { uri: string }[];
      ttlMs: number;
    };
    expect(listed.skills.map((skill) => skill.uri)).toContain(PDF);
    expect(listed.ttlMs).toBe(0);
    const got = (await plain(kit, "skills/get", { uri: PDF })).result as {
      skill: { frontmatter: JsonObject; resources: { uri: string }[] };
    };
    expect(got.skill.frontmatter.name).toBe("pdf-processing");
    expect(got.skill.resources.map((r) => r.uri)).toContain(
      "skill://pdf-processing/references/FORMS.md",
    );
    const dir = (await plain(kit, "resources/directory/read", { uri: "skill://pdf-processing" }))
      .result as { resources: { uri: string }[] };
    expect(dir.resources.map((r) => r.uri)).toContain("skill://pdf-processing/templates");
    const read = (
      await plain(kit, "resources/read", { uri: "skill://pdf-processing/references/FORMS.md" })
    ).result as { contents: { text: string }[] };
    expect(read.contents[0]!.text).toContain("How to fill PDF forms");
    const unknown = await plain(kit, "skills/get", { uri: "skill://nope/SKILL.md" });
    expect(unknown.error).toMatchObject({ code: -32602 });
  });

  it("shows a caller without the upstream's scopes none of its skills", async () => {
    const bare = await accessToken(plainBase, "");
    const listed = (await plain(bare, "skills/list")).result as { skills: unknown[] };
    expect(listed.skills).toEqual([]);
    const got = await plain(bare, "skills/get", { uri: PDF });
    expect(got.error).toMatchObject({ code: -32602 });
  });

  it("leaves a namespaced upstream's skills out: their URIs would lose the skill:// scheme", async () => {
    const discovered = (await send(alice, "server/discover", {})).result as {
      capabilities: { extensions?: JsonObject };
    };
    expect(discovered.capabilities.extensions?.[SKILLS]).toBeUndefined();
  });
});
