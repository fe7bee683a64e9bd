import { z } from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpServer, mcpApp, memoryEventStore } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";

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
      scopes: ["notes:write"],
    },
    async ({ text }, ctx) => {
      await ctx.progress(1, 2, "saving");
      const id = String(notes.size + 1);
      notes.set(id, text);
      ctx.log.info(`note ${id} saved by ${ctx.auth?.subject ?? "anonymous"}`);
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

/** The demo app: the notes server behind the built-in authorization server (dev login). */
export function createDemoApp(options: { auth?: boolean } = {}) {
  const store = memoryStore();
  return mcpApp(createDemoServer(), {
    path: "/mcp",
    sessions: true,
    eventStore: memoryEventStore(),
    ...(options.auth === false
      ? {}
      : {
          auth: authorizationServer({
            store,
            login: devLogin(),
            scopes: ["notes:read", "notes:write"],
          }),
        }),
  });
}

export const app = createDemoApp();
