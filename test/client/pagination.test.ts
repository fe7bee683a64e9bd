/** Pages and the async iterators over them, against a server with pageSize 2. */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { McpClient } from "../../src/client/index.ts";
import { McpServer } from "../../src/index.ts";
import { client, collect, fakeServer, MODES, serve } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function pagedServer(): McpServer {
  const mcp = new McpServer({ name: "paged", version: "1.0.0", pageSize: 2 });
  for (let i = 1; i <= 5; i++) {
    mcp.tool(`tool${i}`, { output: z.object({ n: z.number() }) }, () => ({ n: i }));
    mcp.resource(`res://${i}`, { name: `res${i}` }, () => `resource ${i}`);
    mcp.resource(`tpl${i}://{x}`, { name: `tpl${i}` }, ({ x }) => x);
    mcp.prompt(`prompt${i}`, {}, () => `prompt ${i}`);
  }
  return mcp;
}

describe.each(MODES)("$name", (mode) => {
  async function connect() {
    const made = client(mode.client);
    await made.client.connect(await serve(pagedServer(), mode.options()));
    open.push(made.client);
    return made;
  }

  it("hands back one page and its cursor", async () => {
    const { client: c } = await connect();
    const first = await c.listTools();
    expect(first.tools.map((tool) => tool.name)).toEqual(["tool1", "tool2"]);
    expect(typeof first.nextCursor).toBe("string");
    const second = await c.listTools({ cursor: first.nextCursor! });
    expect(second.tools.map((tool) => tool.name)).toEqual(["tool3", "tool4"]);
    const last = await c.listTools({ cursor: second.nextCursor! });
    expect(last.tools.map((tool) => tool.name)).toEqual(["tool5"]);
    expect(last.nextCursor).toBeUndefined();
  });

  it("iterates over every item of every list, across cursors", async () => {
    const { client: c } = await connect();
    expect((await collect(c.tools())).map((tool) => tool.name)).toEqual([
      "tool1",
      "tool2",
      "tool3",
      "tool4",
      "tool5",
    ]);
    expect((await collect(c.resources())).map((resource) => resource.uri)).toEqual([
      "res://1",
      "res://2",
      "res://3",
      "res://4",
      "res://5",
    ]);
    expect((await collect(c.resourceTemplates())).map((t) => t.uriTemplate)).toEqual([
      "tpl1://{x}",
      "tpl2://{x}",
      "tpl3://{x}",
      "tpl4://{x}",
      "tpl5://{x}",
    ]);
    expect((await collect(c.prompts())).map((prompt) => prompt.name)).toEqual([
      "prompt1",
      "prompt2",
      "prompt3",
      "prompt4",
      "prompt5",
    ]);
  });

  it("can stop early without fetching further pages", async () => {
    const { client: c } = await connect();
    const names: string[] = [];
    for await (const tool of c.tools()) {
      names.push(tool.name);
      if (names.length === 3) break;
    }
    expect(names).toEqual(["tool1", "tool2", "tool3"]);
  });

  it("remembers output schemas from every page it saw", async () => {
    const { client: c, warnings } = await connect();
    await collect(c.tools());
    expect((await c.callTool("tool5")).structuredContent).toEqual({ n: 5 });
    expect(warnings).toEqual([]);
  });

  it("rejects an invalid cursor with the server's error", async () => {
    const { client: c } = await connect();
    await expect(c.listTools({ cursor: "bogus!" })).rejects.toMatchObject({ code: -32602 });
  });
});

describe("a server whose cursors loop", () => {
  it("stops with ERR_PAGINATION_LOOP instead of iterating forever", async () => {
    const { url } = await fakeServer((request) =>
      request.method === "tools/list"
        ? { tools: [{ name: "again", inputSchema: { type: "object" } }], nextCursor: "same" }
        : undefined,
    );
    const { client: c } = client();
    await c.connect(url);
    open.push(c);
    const seen: string[] = [];
    const iterate = async () => {
      for await (const tool of c.tools()) seen.push(tool.name);
    };
    await expect(iterate()).rejects.toMatchObject({
      name: "ProtocolError",
      code: "ERR_PAGINATION_LOOP",
    });
    expect(seen).toEqual(["again", "again"]);
  });
});
