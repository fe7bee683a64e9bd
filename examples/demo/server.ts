import { z } from "zod";
import { McpServer, mcpApp, memoryEventStore } from "../../src/index.ts";

/** The demo server: a small notes service. The same file serves every runtime. */
export function createDemoServer(): McpServer {
  const notes = new Map<string, string>();
  const mcp = new McpServer({
    name: "notes",
    version: "1.0.0",
    instructions: "A tiny notes service.",
  });

  mcp.tool(
    "add_note",
    {
      description: "Store a note",
      input: z.object({ text: z.string().min(1).describe("The note") }),
      output: z.object({ id: z.string() }),
      annotations: { destructiveHint: false },
    },
    async ({ text }, ctx) => {
      await ctx.progress(1, 2, "saving");
      const id = String(notes.size + 1);
      notes.set(id, text);
      ctx.log.info(`note ${id} saved`);
      mcp.resourceUpdated(`notes://${id}`);
      return { id };
    },
  );

  mcp.tool(
    "list_notes",
    { description: "List every note", annotations: { readOnlyHint: true } },
    () => [...notes].map(([id, text]) => `${id}: ${text}`).join("\n") || "(no notes yet)",
  );

  mcp.resource(
    "notes://{id}",
    {
      description: "A note",
      mimeType: "text/plain",
      complete: { id: (value) => [...notes.keys()].filter((id) => id.startsWith(value)) },
      list: () => [...notes.keys()].map((id) => ({ uri: `notes://${id}`, name: `note ${id}` })),
    },
    ({ id }) => notes.get(id) ?? "",
  );

  mcp.prompt(
    "summarize",
    { description: "Summarize the notes on a topic", args: z.object({ topic: z.string() }) },
    ({ topic }) => [{ role: "user", content: `Summarize my notes about ${topic}` }],
  );
  return mcp;
}

export const app = mcpApp(createDemoServer(), {
  path: "/mcp",
  sessions: true,
  eventStore: memoryEventStore(),
});
