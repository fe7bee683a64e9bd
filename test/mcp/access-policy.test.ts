/**
 * `canAccess` (issue 13, access policy), in memory: per tool, resource, template and prompt,
 * a check over the verified caller's claims decides what its lists show and what it may use.
 * What a caller may not access is answered exactly as if it were not registered.
 */
import { describe, expect, it } from "vitest";
import { inMemoryTransport } from "../../src/client/memory.ts";
import {
  type AuthInfo,
  ErrorCode,
  type Exchange,
  McpServer,
  Peer,
  PolicyDenied,
} from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { capturingLogger } from "../helpers/log.ts";
import { modernMeta } from "../http/modern-support.ts";
import { error, exchange, result } from "./support.ts";

const roles = (auth: AuthInfo): unknown[] =>
  Array.isArray(auth.claims?.roles) ? auth.claims.roles : [];
const isAdmin = (auth: AuthInfo) => roles(auth).includes("admin");

function caller(claims: Record<string, unknown>, version = "2025-11-25"): Exchange {
  return {
    ...exchange(new Peer(version)),
    auth: { kind: "user", subject: String(claims.sub ?? "someone"), scopes: [], claims },
  };
}

const ADMIN = { sub: "ada", roles: ["admin"], tenant: "acme" };
const VIEWER = { sub: "vic", roles: ["viewer"], tenant: "globex" };

function server(logger = capturingLogger()) {
  const mcp = new McpServer({ name: "policy", version: "1.0.0", logger });
  const ran: string[] = [];
  mcp.tool("echo", {}, () => "echo");
  mcp.tool("reset", { canAccess: isAdmin }, () => {
    ran.push("reset");
    return "reset done";
  });
  // Async, and deciding from a claim other than roles.
  mcp.tool("acme_report", { canAccess: async (auth) => auth.claims?.tenant === "acme" }, () => {
    ran.push("acme_report");
    return "report";
  });
  mcp.resource("config://public", {}, () => "public");
  mcp.resource("config://secret", { canAccess: isAdmin }, () => {
    ran.push("secret");
    return "secret";
  });
  mcp.resource(
    "acme://docs/{name}",
    {
      canAccess: (auth) => auth.claims?.tenant === "acme",
      list: () => [{ uri: "acme://docs/plan", name: "plan" }],
      complete: { name: () => ["plan", "budget"] },
    },
    ({ name }) => {
      ran.push(`acme doc ${name}`);
      return `doc ${name}`;
    },
  );
  mcp.resource(
    "open://docs/{name}",
    { list: () => [{ uri: "open://docs/faq", name: "faq" }] },
    () => "open",
  );
  mcp.prompt("greet", {}, () => "hello");
  mcp.prompt("audit", { canAccess: isAdmin, complete: { period: () => ["q1", "q2"] } }, () => {
    ran.push("audit");
    return "audit everything";
  });
  return { mcp, ran, logger };
}

const names = (items: unknown) => (items as { name: string }[]).map((item) => item.name);
const uris = (items: unknown) =>
  (items as { uri?: string; uriTemplate?: string }[]).map((item) => item.uri ?? item.uriTemplate);

describe("lists", () => {
  it("show each caller only what its claims let it access", async () => {
    const { mcp } = server();
    const admin = caller(ADMIN);
    const viewer = caller(VIEWER);
    expect(names((await result(mcp, "tools/list", {}, admin)).tools)).toEqual([
      "echo",
      "reset",
      "acme_report",
    ]);
    expect(names((await result(mcp, "tools/list", {}, viewer)).tools)).toEqual(["echo"]);

    expect(uris((await result(mcp, "resources/list", {}, admin)).resources)).toEqual([
      "config://public",
      "config://secret",
      "acme://docs/plan",
      "open://docs/faq",
    ]);
    expect(uris((await result(mcp, "resources/list", {}, viewer)).resources)).toEqual([
      "config://public",
      "open://docs/faq",
    ]);

    expect(
      uris((await result(mcp, "resources/templates/list", {}, admin)).resourceTemplates),
    ).toEqual(["acme://docs/{name}", "open://docs/{name}"]);
    expect(
      uris((await result(mcp, "resources/templates/list", {}, viewer)).resourceTemplates),
    ).toEqual(["open://docs/{name}"]);

    expect(names((await result(mcp, "prompts/list", {}, admin)).prompts)).toEqual([
      "greet",
      "audit",
    ]);
    expect(names((await result(mcp, "prompts/list", {}, viewer)).prompts)).toEqual(["greet"]);
  });

  it("hide what has a check from a request with no verified caller, and show the rest", async () => {
    const { mcp } = server();
    expect(names((await result(mcp, "tools/list")).tools)).toEqual(["echo"]);
    expect(uris((await result(mcp, "resources/list")).resources)).toEqual([
      "config://public",
      "open://docs/faq",
    ]);
    expect(names((await result(mcp, "prompts/list")).prompts)).toEqual(["greet"]);
  });

  it("hide what canAccess hides even when the server lists what needs scopes the caller lacks", async () => {
    const mcp = new McpServer({ name: "p", version: "1", listUnauthorized: true });
    mcp.tool("scoped", { scopes: ["notes:write"] }, () => "x");
    mcp.tool("admin", { canAccess: isAdmin }, () => "x");
    expect(names((await result(mcp, "tools/list", {}, caller(VIEWER))).tools)).toEqual(["scoped"]);
  });

  it("page the filtered list: cursors walk only what the caller may see", async () => {
    const mcp = new McpServer({ name: "p", version: "1", pageSize: 2 });
    for (let i = 0; i < 6; i++) {
      mcp.tool(`t${i}`, i % 2 ? { canAccess: isAdmin } : {}, () => "x");
    }
    const viewer = caller(VIEWER);
    const first = await result(mcp, "tools/list", {}, viewer);
    expect(names(first.tools)).toEqual(["t0", "t2"]);
    const second = await result(mcp, "tools/list", { cursor: first.nextCursor }, viewer);
    expect(names(second.tools)).toEqual(["t4"]);
    expect(second.nextCursor).toBeUndefined();
  });
});

describe("using what the caller may not access", () => {
  it("is answered as not found, the same error as for what is not registered, and runs nothing", async () => {
    const { mcp, ran } = server();
    const viewer = caller(VIEWER);
    const hidden = await error(mcp, "tools/call", { name: "reset", arguments: {} }, viewer);
    const absent = await error(mcp, "tools/call", { name: "nothing", arguments: {} }, viewer);
    expect(hidden).toEqual({ code: ErrorCode.InvalidParams, message: "Unknown tool: reset" });
    expect(absent).toEqual({ code: ErrorCode.InvalidParams, message: "Unknown tool: nothing" });

    expect(await error(mcp, "tools/call", { name: "acme_report" }, viewer)).toMatchObject({
      code: ErrorCode.InvalidParams,
    });
    expect(await error(mcp, "prompts/get", { name: "audit" }, viewer)).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown prompt: audit",
    });
    expect(await error(mcp, "resources/read", { uri: "config://secret" }, viewer)).toEqual({
      code: ErrorCode.ResourceNotFound,
      message: "Resource not found: config://secret",
      data: { uri: "config://secret" },
    });
    expect(await error(mcp, "resources/read", { uri: "acme://docs/plan" }, viewer)).toMatchObject({
      code: ErrorCode.ResourceNotFound,
    });
    expect(
      await error(mcp, "resources/subscribe", { uri: "config://secret" }, viewer),
    ).toMatchObject({ code: ErrorCode.ResourceNotFound });
    expect(
      await error(
        mcp,
        "completion/complete",
        { ref: { type: "ref/prompt", name: "audit" }, argument: { name: "period", value: "" } },
        viewer,
      ),
    ).toEqual({ code: ErrorCode.InvalidParams, message: "Unknown prompt: audit" });
    expect(
      await error(
        mcp,
        "completion/complete",
        {
          ref: { type: "ref/resource", uri: "acme://docs/{name}" },
          argument: { name: "name", value: "" },
        },
        viewer,
      ),
    ).toMatchObject({ code: ErrorCode.ResourceNotFound });
    expect(ran).toEqual([]);
  });

  it("works for a caller whose claims pass", async () => {
    const { mcp, ran } = server();
    const admin = caller(ADMIN);
    expect(await result(mcp, "tools/call", { name: "reset" }, admin)).toEqual({
      content: [{ type: "text", text: "reset done" }],
    });
    await result(mcp, "tools/call", { name: "acme_report" }, admin);
    await result(mcp, "prompts/get", { name: "audit" }, admin);
    await result(mcp, "resources/read", { uri: "config://secret" }, admin);
    await result(mcp, "resources/read", { uri: "acme://docs/plan" }, admin);
    const completion = await result(
      mcp,
      "completion/complete",
      { ref: { type: "ref/prompt", name: "audit" }, argument: { name: "period", value: "" } },
      admin,
    );
    expect((completion.completion as { values: string[] }).values).toEqual(["q1", "q2"]);
    expect(ran).toEqual(["reset", "acme_report", "audit", "secret", "acme doc plan"]);
  });

  it("is refused with no verified caller (stdio, an open endpoint): a check has no claims to read", async () => {
    const { mcp, ran } = server();
    expect(await error(mcp, "tools/call", { name: "reset" })).toMatchObject({
      code: ErrorCode.InvalidParams,
    });
    expect(await result(mcp, "tools/call", { name: "echo" })).toBeDefined();
    expect(ran).toEqual([]);
  });

  it("is answered as not found in the 2026-07-28 era too (invalid params, as for a missing resource)", async () => {
    const { mcp, ran } = server();
    const viewer = caller(VIEWER, "2026-07-28");
    expect(await error(mcp, "tools/call", { name: "reset" }, viewer)).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown tool: reset",
    });
    expect(await error(mcp, "resources/read", { uri: "config://secret" }, viewer)).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Resource not found: config://secret",
      data: { uri: "config://secret" },
    });
    expect(ran).toEqual([]);
  });

  it("reaches the error handler as a PolicyDenied, so operators can count it apart from a typo", async () => {
    const { mcp } = server();
    const seen: unknown[] = [];
    // The access rules run first: a middleware added with use() sees the refusal only through
    // onError, which gets every error thrown past the pipeline.
    mcp.onError((thrown) => {
      seen.push(thrown);
    });
    await error(mcp, "tools/call", { name: "reset" }, caller(VIEWER));
    await error(mcp, "tools/call", { name: "nothing" }, caller(VIEWER));
    expect(seen[0]).toBeInstanceOf(PolicyDenied);
    expect(seen[1]).not.toBeInstanceOf(PolicyDenied);
  });
});

describe("a check that misbehaves", () => {
  it("denies when it throws or rejects, and the error is logged", async () => {
    const logger = capturingLogger();
    const mcp = new McpServer({ name: "p", version: "1", logger });
    mcp.tool(
      "throws",
      {
        canAccess: () => {
          throw new Error("claims store down");
        },
      },
      () => "x",
    );
    mcp.tool("rejects", { canAccess: () => Promise.reject(new Error("nope")) }, () => "x");
    mcp.tool("open", {}, () => "x");
    const admin = caller(ADMIN);
    expect(names((await result(mcp, "tools/list", {}, admin)).tools)).toEqual(["open"]);
    expect(await error(mcp, "tools/call", { name: "throws" }, admin)).toMatchObject({
      code: ErrorCode.InvalidParams,
    });
    const errors = logger.at("error");
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(errors.every((line) => line.message === "canAccess threw; access denied")).toBe(true);
    expect(String((errors[0]!.fields.error as Error).message)).toMatch(/claims store down|nope/);
  });

  it("grants only on true: a truthy value that is not true denies", async () => {
    const mcp = new McpServer({ name: "p", version: "1" });
    mcp.tool("truthy", { canAccess: (() => "yes") as unknown as () => boolean }, () => "x");
    expect(await error(mcp, "tools/call", { name: "truthy" }, caller(ADMIN))).toMatchObject({
      code: ErrorCode.InvalidParams,
    });
  });

  it("follows an update: a tool updated with a check is hidden from then on", async () => {
    const mcp = new McpServer({ name: "p", version: "1" });
    const tool = mcp.tool("later", {}, () => "x");
    const viewer = caller(VIEWER);
    expect(await result(mcp, "tools/call", { name: "later" }, viewer)).toBeDefined();
    tool.update({ canAccess: isAdmin });
    expect(await error(mcp, "tools/call", { name: "later" }, viewer)).toMatchObject({
      code: ErrorCode.InvalidParams,
    });
    expect(names((await result(mcp, "tools/list", {}, viewer)).tools)).toEqual([]);
  });
});

describe("subscriptions/listen on a channel (2026-07-28)", () => {
  async function channel(mcp: McpServer, auth?: AuthInfo) {
    const transport = inMemoryTransport(mcp, auth ? { auth } : {});
    const received: Record<string, unknown>[] = [];
    await transport.start({
      message: (value) => void received.push(value as Record<string, unknown>),
      lost: () => {},
      closed: () => {},
    });
    return {
      received,
      send: (message: Record<string, unknown>) => void transport.send(message as never),
      close: () => void transport.close(),
    };
  }
  const listen = (id: number, uris: string[]) => ({
    jsonrpc: "2.0",
    id,
    method: "subscriptions/listen",
    params: { notifications: { resourceSubscriptions: uris }, _meta: modernMeta() },
  });
  const updated = (received: Record<string, unknown>[]) =>
    received
      .filter((m) => m.method === "notifications/resources/updated")
      .map((m) => (m.params as { uri: string }).uri);

  it("accepts a hidden resource's URI like any other but never tells of its changes", async () => {
    const { mcp } = server();
    const viewer = await channel(mcp, caller(VIEWER).auth);
    const admin = await channel(mcp, caller(ADMIN).auth);
    const watched = ["config://secret", "config://public", "nothing://here"];
    viewer.send(listen(1, watched));
    admin.send(listen(1, watched));
    await until(() => viewer.received.length > 0 && admin.received.length > 0);
    // The acknowledgement is the same for both: it does not say what exists.
    expect(viewer.received[0]).toEqual(admin.received[0]);
    expect(viewer.received[0]).toMatchObject({
      params: { notifications: { resourceSubscriptions: watched } },
    });
    mcp.resourceUpdated("config://secret");
    mcp.resourceUpdated("config://public");
    await until(() => updated(viewer.received).length > 0 && updated(admin.received).length > 1);
    expect(updated(viewer.received)).toEqual(["config://public"]);
    expect(updated(admin.received)).toEqual(["config://secret", "config://public"]);
    viewer.close();
    admin.close();
  });

  it("hides with no verified caller, and a cancel while the checks run still ends the stream", async () => {
    const { mcp } = server();
    const open = await channel(mcp);
    open.send(listen(3, ["config://secret"]));
    open.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 3 } });
    await until(() => open.received.some((m) => m.id === 3));
    expect(open.received.find((m) => m.id === 3)).toMatchObject({
      result: { resultType: "complete" },
    });
    mcp.resourceUpdated("config://secret");
    open.send({ jsonrpc: "2.0", id: 4, method: "ping", params: { _meta: modernMeta() } });
    await until(() => open.received.some((m) => m.id === 4));
    expect(updated(open.received)).toEqual([]);
    open.close();
  });
});
