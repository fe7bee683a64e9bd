import { describe, expect, it } from "vitest";
import { ErrorCode, McpServer } from "../../src/index.ts";
import { Listing, paginate } from "../../src/mcp/listing.ts";
import { error, result } from "./support.ts";

interface Item {
  definition: { name: string };
  enabled: boolean;
  scopes: readonly string[];
  userRequired: boolean;
}

const item = (name: string, enabled = true): Item => ({
  definition: { name },
  enabled,
  scopes: [],
  userRequired: true,
});

function names(items: unknown): string[] {
  return (items as { name: string }[]).map((entry) => entry.name);
}

describe("Listing", () => {
  it("keeps registration order and skips disabled items", () => {
    const listing = new Listing<Item>(() => {});
    listing.add("b", item("b"));
    listing.add("a", item("a", false));
    listing.add("c", item("c"));
    expect(names(listing.page(undefined, 10).items)).toEqual(["b", "c"]);
    expect(listing.get("a")).toBeUndefined();
    expect(listing.has("a")).toBe(true);
    expect(listing.get("b")?.definition.name).toBe("b");
    expect(listing.size).toBe(3);
  });

  it("refuses a duplicate key", () => {
    const listing = new Listing<Item>(() => {});
    listing.add("a", item("a"));
    expect(() => listing.add("a", item("a"))).toThrow(/already registered/);
  });

  it("calls onChange on add, delete and changed(), and not for a missing delete", () => {
    let changes = 0;
    const listing = new Listing<Item>(() => changes++);
    listing.add("a", item("a"));
    expect(changes).toBe(1);
    expect(listing.delete("a")).toBe(true);
    expect(changes).toBe(2);
    expect(listing.delete("a")).toBe(false);
    expect(changes).toBe(2);
    listing.changed();
    expect(changes).toBe(3);
  });

  it("rebuilds the published list after changed()", () => {
    const listing = new Listing<Item>(() => {});
    const a = item("a");
    listing.add("a", a);
    expect(names(listing.page(undefined, 10).items)).toEqual(["a"]);
    a.enabled = false;
    listing.changed();
    expect(names(listing.page(undefined, 10).items)).toEqual([]);
  });

  it("narrows the list for one caller with `visible`", () => {
    const listing = new Listing<Item>(() => {});
    for (const name of ["a", "b", "c"]) listing.add(name, item(name));
    const page = listing.page(undefined, 10, (entry) => entry.definition.name !== "b");
    expect(names(page.items)).toEqual(["a", "c"]);
  });
});

describe("paginate", () => {
  const all = Array.from({ length: 5 }, (_, i) => ({ name: `n${i}` }));

  it("returns everything without a cursor when it fits one page", () => {
    expect(paginate(all, undefined, 5)).toEqual({ items: all });
    expect(paginate([], undefined, 5)).toEqual({ items: [] });
  });

  it("walks pages with opaque cursors and omits nextCursor on the last page", () => {
    const first = paginate(all, undefined, 2);
    expect(names(first.items)).toEqual(["n0", "n1"]);
    expect(typeof first.nextCursor).toBe("string");
    // Opaque: not a bare number a client might be tempted to compute.
    expect(first.nextCursor).not.toMatch(/^\d+$/);
    const second = paginate(all, first.nextCursor, 2);
    expect(names(second.items)).toEqual(["n2", "n3"]);
    const third = paginate(all, second.nextCursor, 2);
    expect(names(third.items)).toEqual(["n4"]);
    expect(third).not.toHaveProperty("nextCursor");
  });

  it("omits nextCursor when the last page is exactly full", () => {
    const first = paginate(all.slice(0, 4), undefined, 2);
    const second = paginate(all.slice(0, 4), first.nextCursor, 2);
    expect(names(second.items)).toEqual(["n2", "n3"]);
    expect(second).not.toHaveProperty("nextCursor");
  });

  it.each([
    ["not base64", "%%%"],
    ["base64 of something else", btoa("hello")],
    ["a negative offset", btoa("o-1")],
    ["a number", 2],
    ["an empty string", ""],
  ])("rejects an invalid cursor (%s) with -32602", (_what, cursor) => {
    expect(() => paginate(all, cursor, 2)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidParams }),
    );
  });

  it("rejects a cursor past the end of the list", () => {
    const far = paginate(
      Array.from({ length: 30 }, (_, i) => ({ name: `${i}` })),
      undefined,
      20,
    );
    expect(() => paginate(all, far.nextCursor, 20)).toThrow(/Invalid cursor/);
  });
});

describe("list methods page through the server", () => {
  function server(pageSize?: number): McpServer {
    const mcp = new McpServer(
      pageSize === undefined ? { name: "t", version: "1" } : { name: "t", version: "1", pageSize },
    );
    for (let i = 0; i < 5; i++) {
      mcp.tool(`tool${i}`, {}, () => "ok");
      mcp.resource(`res://${i}`, {}, () => "ok");
      mcp.resource(`tpl${i}://{id}`, {}, () => "ok");
      mcp.prompt(`prompt${i}`, {}, () => "ok");
    }
    return mcp;
  }

  it("defaults to 100 a page: everything on one page, no nextCursor", async () => {
    const mcp = server();
    const tools = await result(mcp, "tools/list");
    expect(names(tools.tools)).toEqual(["tool0", "tool1", "tool2", "tool3", "tool4"]);
    expect(tools).not.toHaveProperty("nextCursor");
  });

  it.each([
    ["tools/list", "tools", (i: number) => `tool${i}`],
    ["resources/list", "resources", (i: number) => `res://${i}`],
    ["resources/templates/list", "resourceTemplates", (i: number) => `tpl${i}://{id}`],
    ["prompts/list", "prompts", (i: number) => `prompt${i}`],
  ])("%s honours pageSize and walks every item once, in order", async (method, key, nameOf) => {
    const mcp = server(2);
    const seen: string[] = [];
    let cursor: unknown;
    let pages = 0;
    do {
      const page = await result(mcp, method, cursor === undefined ? {} : { cursor });
      const items = page[key] as { name: string }[];
      expect(items.length).toBeLessThanOrEqual(2);
      seen.push(...names(items));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual([0, 1, 2, 3, 4].map(nameOf));
  });

  it("gives the same pages for the same cursor (deterministic order)", async () => {
    const mcp = server(2);
    const first = await result(mcp, "tools/list");
    const again = await result(mcp, "tools/list", { cursor: first.nextCursor as string });
    const twice = await result(mcp, "tools/list", { cursor: first.nextCursor as string });
    expect(again).toEqual(twice);
  });

  it("answers an invalid cursor with -32602", async () => {
    const mcp = server(2);
    for (const method of ["tools/list", "resources/list", "resources/templates/list"]) {
      const failed = await error(mcp, method, { cursor: "not-a-cursor" });
      expect(failed.code).toBe(ErrorCode.InvalidParams);
      expect(failed.message).toMatch(/cursor/i);
    }
    expect((await error(mcp, "prompts/list", { cursor: 17 })).code).toBe(ErrorCode.InvalidParams);
  });
});
