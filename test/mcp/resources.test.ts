import { describe, expect, expectTypeOf, it } from "vitest";
import {
  ErrorCode,
  McpError,
  McpServer,
  Peer,
  type ServerEvent,
  type TemplateVariables,
} from "../../src/index.ts";
import { error, exchange, result } from "./support.ts";

function server(pageSize?: number): McpServer {
  return new McpServer(
    pageSize === undefined
      ? { name: "resources", version: "1.0.0" }
      : { name: "resources", version: "1.0.0", pageSize },
  );
}

/** A type with its intersections merged, for exact type comparisons. */
type Flat<T> = { [K in keyof T]: T[K] };

const read = (mcp: McpServer, uri: string) => result(mcp, "resources/read", { uri });

describe("fixed resources", () => {
  it("are listed with their metadata; the name defaults to the URI", async () => {
    const mcp = server();
    mcp.resource("config://app", {}, () => "{}");
    mcp.resource(
      "docs://readme",
      {
        name: "readme",
        title: "README",
        description: "The readme",
        mimeType: "text/markdown",
        size: 12,
        icons: [{ src: "https://example.com/i.png", mimeType: "image/png" }],
        annotations: { audience: ["user"], priority: 0.5 },
        _meta: { source: "repo" },
      },
      () => "# hello",
    );
    expect((await result(mcp, "resources/list")).resources).toEqual([
      { uri: "config://app", name: "config://app" },
      {
        uri: "docs://readme",
        name: "readme",
        title: "README",
        description: "The readme",
        mimeType: "text/markdown",
        size: 12,
        icons: [{ src: "https://example.com/i.png", mimeType: "image/png" }],
        annotations: { audience: ["user"], priority: 0.5 },
        _meta: { source: "repo" },
      },
    ]);
    expect((await result(mcp, "resources/templates/list")).resourceTemplates).toEqual([]);
  });

  it("read as text, with the configured MIME type", async () => {
    const mcp = server();
    mcp.resource("docs://readme", { mimeType: "text/markdown" }, () => "# hello");
    mcp.resource("docs://plain", {}, () => "plain");
    expect(await read(mcp, "docs://readme")).toEqual({
      contents: [{ uri: "docs://readme", mimeType: "text/markdown", text: "# hello" }],
    });
    expect(await read(mcp, "docs://plain")).toEqual({
      contents: [{ uri: "docs://plain", text: "plain" }],
    });
  });

  it("read bytes as a base64 blob", async () => {
    const mcp = server();
    mcp.resource(
      "bin://small",
      { mimeType: "application/octet-stream" },
      () => new Uint8Array([0, 1, 2, 253, 254, 255]),
    );
    const big = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    mcp.resource("bin://big", {}, () => big);
    expect(await read(mcp, "bin://small")).toEqual({
      contents: [{ uri: "bin://small", mimeType: "application/octet-stream", blob: "AAEC/f7/" }],
    });
    const [contents] = (await read(mcp, "bin://big")).contents as { blob: string }[];
    expect(Buffer.from(contents!.blob, "base64").equals(Buffer.from(big))).toBe(true);
  });

  it("read `{ text }`, `{ blob }` and arrays, with per-item MIME type and URI", async () => {
    const mcp = server();
    mcp.resource("multi://x", { mimeType: "text/plain" }, () => [
      "first",
      { text: "<b/>", mimeType: "text/html" },
      { blob: new Uint8Array([104, 105]), mimeType: "image/png", uri: "multi://x/img" },
      { blob: "aGk=", _meta: { note: 1 } },
    ]);
    expect(await read(mcp, "multi://x")).toEqual({
      contents: [
        { uri: "multi://x", mimeType: "text/plain", text: "first" },
        { uri: "multi://x", mimeType: "text/html", text: "<b/>" },
        { uri: "multi://x/img", mimeType: "image/png", blob: "aGk=" },
        { uri: "multi://x", mimeType: "text/plain", blob: "aGk=", _meta: { note: 1 } },
      ],
    });
  });

  it("pass a full ReadResourceResult through as is", async () => {
    const mcp = server();
    const full = { contents: [{ uri: "other://y", text: "raw" }], _meta: { a: 1 } };
    mcp.resource("full://x", { mimeType: "text/plain" }, () => full);
    expect(await read(mcp, "full://x")).toEqual(full);
  });

  it("hand the URI and a context to the handler", async () => {
    const mcp = server();
    let seen: unknown[] = [];
    mcp.resource("ctx://x", {}, (variables, ctx, uri) => {
      seen = [variables, uri, ctx.method];
      return "ok";
    });
    await read(mcp, "ctx://x");
    expect(seen).toEqual([{}, "ctx://x", "resources/read"]);
  });
});

describe("resource templates", () => {
  it("are listed by resources/templates/list, without size", async () => {
    const mcp = server();
    mcp.resource(
      "notes://{id}",
      { description: "A note", mimeType: "text/plain", size: 10, title: "Note" },
      ({ id }) => id,
    );
    mcp.resource("search://notes{?q,lang}", { name: "search" }, () => "");
    expect((await result(mcp, "resources/templates/list")).resourceTemplates).toEqual([
      {
        uriTemplate: "notes://{id}",
        name: "notes://{id}",
        title: "Note",
        description: "A note",
        mimeType: "text/plain",
      },
      { uriTemplate: "search://notes{?q,lang}", name: "search" },
    ]);
    // Templates are not resources.
    expect((await result(mcp, "resources/list")).resources).toEqual([]);
  });

  it("are read with the variables of the matching URI, percent-decoded", async () => {
    const mcp = server();
    mcp.resource("users://{user}/notes/{id}", { mimeType: "text/plain" }, ({ user, id }, _c, uri) =>
      JSON.stringify({ user, id, uri }),
    );
    expect(await read(mcp, "users://ann%20lee/notes/readme.md")).toEqual({
      contents: [
        {
          uri: "users://ann%20lee/notes/readme.md",
          mimeType: "text/plain",
          text: JSON.stringify({
            user: "ann lee",
            id: "readme.md",
            uri: "users://ann%20lee/notes/readme.md",
          }),
        },
      ],
    });
  });

  it("read query and exploded variables", async () => {
    const mcp = server();
    mcp.resource("search://notes{?q,lang}", {}, ({ q, lang }) => `${q}|${lang ?? "-"}`);
    mcp.resource("files://root{/path*}", {}, ({ path }) => `path=${path}`);
    expect(await read(mcp, "search://notes?lang=en&q=cats")).toMatchObject({
      contents: [{ text: "cats|en" }],
    });
    expect(await read(mcp, "search://notes?q=dogs")).toMatchObject({
      contents: [{ text: "dogs|-" }],
    });
    expect(await read(mcp, "files://root/a/b/c.txt")).toMatchObject({
      contents: [{ text: "path=a/b/c.txt" }],
    });
  });

  it("type prefixed and query variables as optional, since a URI may leave them out", async () => {
    expectTypeOf<Flat<TemplateVariables<"notes://{id}{+rest}">>>().toEqualTypeOf<{
      id: string;
      rest: string;
    }>();
    type Prefixed = TemplateVariables<"files://root{/path*}{.ext}{#frag}{?q}{&r}{;p}">;
    expectTypeOf<Flat<Prefixed>>().toEqualTypeOf<{
      path?: string;
      ext?: string;
      frag?: string;
      q?: string;
      r?: string;
      p?: string;
    }>();
    const mcp = server();
    mcp.resource("files://root{/path*}", {}, ({ path }) => path ?? "(root)");
    mcp.resource("notes://{id}", {}, ({ id }) => `[${id}]`);
    expect(await read(mcp, "files://root")).toMatchObject({ contents: [{ text: "(root)" }] });
    expect(await read(mcp, "files://root/a/b")).toMatchObject({ contents: [{ text: "a/b" }] });
    expect(await read(mcp, "notes://")).toMatchObject({ contents: [{ text: "[]" }] });
  });

  it("yield to a fixed resource at the same URI, and the first match wins", async () => {
    const mcp = server();
    mcp.resource("notes://{id}", {}, ({ id }) => `template ${id}`);
    mcp.resource("notes://{other}", {}, () => "second template");
    mcp.resource("notes://special", {}, () => "fixed");
    expect(await read(mcp, "notes://special")).toMatchObject({ contents: [{ text: "fixed" }] });
    expect(await read(mcp, "notes://7")).toMatchObject({ contents: [{ text: "template 7" }] });
  });

  it("are skipped while disabled", async () => {
    const mcp = server();
    const first = mcp.resource("notes://{id}", {}, () => "first");
    mcp.resource("notes://{key}", {}, () => "second");
    first.disable();
    expect(await read(mcp, "notes://1")).toMatchObject({ contents: [{ text: "second" }] });
    expect((await result(mcp, "resources/templates/list")).resourceTemplates).toEqual([
      { uriTemplate: "notes://{key}", name: "notes://{key}" },
    ]);
  });
});

describe("template members in resources/list", () => {
  it("follow the fixed resources, in template order, with the template's MIME type", async () => {
    const mcp = server();
    mcp.resource("fixed://a", {}, () => "a");
    mcp.resource(
      "notes://{id}",
      {
        mimeType: "text/plain",
        list: () => [
          { uri: "notes://1", name: "note 1" },
          { uri: "notes://2", name: "note 2", mimeType: "text/markdown", description: "second" },
        ],
      },
      ({ id }) => id,
    );
    mcp.resource(
      "tags://{tag}",
      { list: async () => [{ uri: "tags://red", name: "red" }] },
      () => "",
    );
    mcp.resource("nolist://{x}", {}, () => "");
    expect((await result(mcp, "resources/list")).resources).toEqual([
      { uri: "fixed://a", name: "fixed://a" },
      { uri: "notes://1", name: "note 1", mimeType: "text/plain" },
      { uri: "notes://2", name: "note 2", mimeType: "text/markdown", description: "second" },
      { uri: "tags://red", name: "red" },
    ]);
  });

  it("are enumerated again on every request, with the request's context", async () => {
    const mcp = server();
    const ids = ["1"];
    const methods: string[] = [];
    mcp.resource(
      "notes://{id}",
      {
        list: (ctx) => {
          methods.push(ctx.method);
          return ids.map((id) => ({ uri: `notes://${id}`, name: id }));
        },
      },
      () => "",
    );
    expect((await result(mcp, "resources/list")).resources).toHaveLength(1);
    ids.push("2");
    expect((await result(mcp, "resources/list")).resources).toHaveLength(2);
    expect(methods).toEqual(["resources/list", "resources/list"]);
  });

  it("disappear with a disabled template", async () => {
    const mcp = server();
    const template = mcp.resource(
      "notes://{id}",
      { list: () => [{ uri: "notes://1", name: "1" }] },
      () => "",
    );
    template.disable();
    expect((await result(mcp, "resources/list")).resources).toEqual([]);
  });

  it("page together with the fixed resources", async () => {
    const mcp = server(2);
    mcp.resource("fixed://a", {}, () => "a");
    mcp.resource(
      "notes://{id}",
      { list: () => ["1", "2", "3"].map((id) => ({ uri: `notes://${id}`, name: id })) },
      () => "",
    );
    const first = await result(mcp, "resources/list");
    expect((first.resources as { uri: string }[]).map((r) => r.uri)).toEqual([
      "fixed://a",
      "notes://1",
    ]);
    const second = await result(mcp, "resources/list", { cursor: first.nextCursor as string });
    expect((second.resources as { uri: string }[]).map((r) => r.uri)).toEqual([
      "notes://2",
      "notes://3",
    ]);
    expect(second).not.toHaveProperty("nextCursor");
  });

  it("can be read through their template", async () => {
    const mcp = server();
    mcp.resource(
      "notes://{id}",
      { list: () => [{ uri: "notes://9", name: "9" }] },
      ({ id }) => `note ${id}`,
    );
    const [member] = (await result(mcp, "resources/list")).resources as { uri: string }[];
    expect(await read(mcp, member!.uri)).toMatchObject({ contents: [{ text: "note 9" }] });
  });
});

describe("resource errors", () => {
  it("answer an unknown URI with -32002 and the URI in data", async () => {
    const mcp = server();
    mcp.resource("notes://{id}", {}, () => "x");
    expect(await error(mcp, "resources/read", { uri: "missing://x" })).toEqual({
      code: ErrorCode.ResourceNotFound,
      message: "Resource not found: missing://x",
      data: { uri: "missing://x" },
    });
  });

  it("treat a disabled fixed resource as unknown", async () => {
    const mcp = server();
    mcp.resource("fixed://a", {}, () => "a").disable();
    expect((await error(mcp, "resources/read", { uri: "fixed://a" })).code).toBe(-32002);
  });

  it("answer a missing uri with -32602", async () => {
    expect((await error(server(), "resources/read", {})).code).toBe(ErrorCode.InvalidParams);
  });

  it("let an McpError from the handler through, and hide other failures", async () => {
    const mcp = server();
    mcp.resource("gone://{id}", {}, ({ id }) => {
      throw new McpError(ErrorCode.ResourceNotFound, `No note ${id}`, { uri: `gone://${id}` });
    });
    mcp.resource("broken://x", {}, () => {
      throw new Error("secret stack detail");
    });
    expect(await error(mcp, "resources/read", { uri: "gone://4" })).toEqual({
      code: -32002,
      message: "No note 4",
      data: { uri: "gone://4" },
    });
    expect(await error(mcp, "resources/read", { uri: "broken://x" })).toEqual({
      code: ErrorCode.InternalError,
      message: "Internal error",
      data: { errorId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
  });
});

describe("resource handles and subscriptions", () => {
  it("refuse a duplicate URI or template", () => {
    const mcp = server();
    mcp.resource("fixed://a", {}, () => "a");
    mcp.resource("notes://{id}", {}, () => "a");
    expect(() => mcp.resource("fixed://a", {}, () => "b")).toThrow(/already registered/);
    expect(() => mcp.resource("notes://{id}", {}, () => "b")).toThrow(/already registered/);
  });

  it("update() and remove() a template", async () => {
    const mcp = server();
    const template = mcp.resource("notes://{id}", { description: "old" }, () => "old");
    template.update({ description: "new" }, ({ id }) => `new ${id}`);
    expect((await result(mcp, "resources/templates/list")).resourceTemplates).toEqual([
      { uriTemplate: "notes://{id}", name: "notes://{id}", description: "new" },
    ]);
    expect(await read(mcp, "notes://1")).toMatchObject({ contents: [{ text: "new 1" }] });
    template.remove();
    expect((await result(mcp, "resources/templates/list")).resourceTemplates).toEqual([]);
    expect((await error(mcp, "resources/read", { uri: "notes://1" })).code).toBe(-32002);
  });

  it("record subscriptions on the peer", async () => {
    const mcp = server();
    mcp.resource("fixed://a", {}, () => "a");
    const peer = new Peer("2025-11-25", "session-1");
    const via = exchange(peer);
    expect(await result(mcp, "resources/subscribe", { uri: "fixed://a" }, via)).toEqual({});
    expect([...(peer.subscriptions ?? [])]).toEqual(["fixed://a"]);
    expect(await result(mcp, "resources/unsubscribe", { uri: "fixed://a" }, via)).toEqual({});
    expect([...(peer.subscriptions ?? [])]).toEqual([]);
    expect((await error(mcp, "resources/subscribe", {}, via)).code).toBe(ErrorCode.InvalidParams);
  });

  it("resourceUpdated() tells listeners at once", () => {
    const mcp = server();
    const events: ServerEvent[] = [];
    mcp.listen((event) => events.push(event));
    mcp.resourceUpdated("fixed://a");
    expect(events).toEqual([{ type: "resource_updated", uri: "fixed://a" }]);
  });

  it("ctx.readResource() reads through the registry from a tool", async () => {
    const mcp = server();
    mcp.resource("notes://{id}", { mimeType: "text/plain" }, ({ id }) => `note ${id}`);
    mcp.tool("peek", {}, async (_args, ctx) => (await ctx.readResource("notes://3")).contents);
    const called = await result(mcp, "tools/call", { name: "peek" });
    expect(JSON.parse((called.content as { text: string }[])[0]!.text)).toEqual([
      { uri: "notes://3", mimeType: "text/plain", text: "note 3" },
    ]);
  });
});
