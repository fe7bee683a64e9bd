/**
 * An MCP server deployed as a Worker of its own: the gateway's upstream in gateway.test.ts. It
 * is our McpServer, stateless and open (no auth): the kind of server a gateway is put in front
 * of. vitest.workers.config.ts bundles this file with esbuild and runs it as a second Worker,
 * "mcp-upstream", which the pool Worker reaches only through its UPSTREAM service binding.
 *
 * It records what reached it, so the test can tell whether a tool ran and which headers came:
 * `GET /seen` answers `{ calls, authorization, identity, routed }`.
 */
import { z } from "zod";
import { McpServer, mcpApp } from "../../src/index.ts";

/** What reached this upstream (one isolate in the tests, so module memory is enough). */
const seen = {
  /** Each tool call, as `<tool>:<argument>`. */
  calls: [] as string[],
  /** Every Authorization header value that came with an MCP request. */
  authorization: [] as string[],
  /** Every X-Subject header value (the gateway's identityHeader, when configured). */
  identity: [] as string[],
  /** Each tools/call with the X-Subject it came with: `<subject or ->|<tool>|<arguments>`. */
  routed: [] as string[],
};

function build() {
  const server = new McpServer({ name: "worker-upstream", version: "1.0.0" });
  server.tool(
    "echo",
    {
      description: "Returns its text",
      input: z.object({ text: z.string() }),
      userRequired: false,
    },
    ({ text }) => {
      seen.calls.push(`echo:${text}`);
      return `echo: ${text}`;
    },
  );
  server.tool(
    "delete_note",
    {
      description: "Deletes a note (the gateway asks for notes:delete)",
      input: z.object({ id: z.string() }),
      userRequired: false,
    },
    ({ id }) => {
      seen.calls.push(`delete_note:${id}`);
      return `deleted ${id}`;
    },
  );
  server.tool(
    "greet",
    { description: "Asks the caller's name, then greets", userRequired: false },
    async (_args, ctx) => {
      const answer = await ctx.elicit({
        message: "Your name?",
        schema: z.object({ name: z.string() }),
      });
      seen.calls.push(`greet:${answer.action}`);
      return `hello ${String(answer.content?.name ?? "nobody")}`;
    },
  );
  return mcpApp(server, { path: "/mcp" });
}

let app: ReturnType<typeof build> | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/seen") return Response.json(seen);
    const authorization = request.headers.get("authorization");
    if (authorization !== null) seen.authorization.push(authorization);
    const identity = request.headers.get("x-subject");
    if (identity !== null) seen.identity.push(identity);
    if (request.method === "POST") {
      const message = (await request
        .clone()
        .json()
        .catch(() => undefined)) as
        | { method?: string; params?: { name?: string; arguments?: unknown } }
        | undefined;
      if (message?.method === "tools/call") {
        const { name, arguments: args } = message.params ?? {};
        seen.routed.push(`${identity ?? "-"}|${name}|${JSON.stringify(args)}`);
      }
    }
    // Built on the first request: workerd allows no random values at global scope.
    app ??= build();
    return app.fetch(request);
  },
};
