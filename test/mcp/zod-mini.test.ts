import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { McpServer } from "../../src/index.ts";
import { result } from "./support.ts";

// zod/mini schemas are zod schemas too (the same core): tools and prompts take them like
// classic ones, which is how a Worker keeps classic zod out of its bundle.
describe("zod/mini schemas", () => {
  it("publish JSON Schema and validate a tool's arguments", async () => {
    const mcp = new McpServer({ name: "mini", version: "1.0.0" });
    mcp.tool(
      "add",
      {
        input: z.object({
          text: z.string().check(z.minLength(1), z.describe("The note")),
          times: z._default(z.int(), 1),
        }),
        output: z.object({ echoed: z.string() }),
      },
      ({ text, times }) => ({ echoed: text.repeat(times) }),
    );
    const [tool] = (await result(mcp, "tools/list")).tools as Record<string, unknown>[];
    expect(tool!.inputSchema).toMatchObject({
      type: "object",
      properties: { text: { type: "string", minLength: 1, description: "The note" } },
      required: ["text"],
    });
    expect(tool!.outputSchema).toMatchObject({ required: ["echoed"] });
    const called = await result(mcp, "tools/call", { name: "add", arguments: { text: "ab" } });
    expect(called.structuredContent).toEqual({ echoed: "ab" });
    const refused = await result(mcp, "tools/call", { name: "add", arguments: { text: "" } });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toMatch(/text: /);
  });

  it("describe a prompt's arguments and check them", async () => {
    const mcp = new McpServer({ name: "mini", version: "1.0.0" });
    mcp.prompt(
      "summarize",
      {
        args: z.object({
          topic: z.string().check(z.describe("What about")),
          style: z.optional(z.string()),
        }),
      },
      ({ topic }) => `About ${topic}`,
    );
    expect((await result(mcp, "prompts/list")).prompts).toEqual([
      {
        name: "summarize",
        arguments: [
          { name: "topic", required: true, description: "What about" },
          { name: "style", required: false },
        ],
      },
    ]);
    const got = await result(mcp, "prompts/get", { name: "summarize", arguments: { topic: "x" } });
    expect(got.messages).toEqual([{ role: "user", content: { type: "text", text: "About x" } }]);
  });
});
