// Our McpServer with the bench's `echo` tool, over stdio: the upstream of the gateway's stdio
// scenarios in bench/run.ts, called directly and behind the gateway (bench/servers/gateway.ts).
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import { serveStdio } from "../../src/node/index.ts";

const mcp = new McpServer({ name: "bench-stdio", version: "1.0.0" });
mcp.tool(
  "echo",
  { description: "Echo", input: z.object({ text: z.string() }), userRequired: false },
  ({ text }) => text,
);
serveStdio(mcp);
