/**
 * The server the official MCP conformance suite runs against: every fixture its server
 * scenarios look for, written on the public API only. Stateful with an event store, so the
 * session, SSE polling and resumability scenarios apply.
 *
 *   npm run conformance:server   # http://localhost:$PORT/mcp, PORT defaults to 3001
 */
import { z } from "zod";
import { McpError, McpServer, mcpApp, memoryEventStore } from "../src/index.ts";
import { serve } from "../src/node/index.ts";

const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const mcp = new McpServer({ name: "portcullis-conformance", version: "1.0.0" });

mcp.tool(
  "test_simple_text",
  { description: "Returns simple text" },
  () => "This is a simple text response for testing.",
);

mcp.tool("test_image_content", { description: "Returns an image" }, () => ({
  type: "image",
  data: PNG,
  mimeType: "image/png",
}));

mcp.tool("test_audio_content", { description: "Returns audio" }, () => ({
  type: "audio",
  data: WAV,
  mimeType: "audio/wav",
}));

mcp.tool("test_embedded_resource", { description: "Returns an embedded resource" }, () => ({
  type: "resource",
  resource: {
    uri: "test://embedded-resource",
    mimeType: "text/plain",
    text: "This is an embedded resource content.",
  },
}));

mcp.tool("test_multiple_content_types", { description: "Returns text, image and resource" }, () => [
  { type: "text", text: "Multiple content types test:" },
  { type: "image", data: PNG, mimeType: "image/png" },
  {
    type: "resource",
    resource: {
      uri: "test://mixed-content-resource",
      mimeType: "application/json",
      text: JSON.stringify({ test: "data", value: 123 }),
    },
  },
]);

mcp.tool("test_tool_with_logging", { description: "Logs while it runs" }, async (_args, ctx) => {
  ctx.log.info("Tool execution started");
  await sleep(50);
  ctx.log.info("Tool processing data");
  await sleep(50);
  ctx.log.info("Tool execution completed");
  return "Tool with logging executed successfully";
});

mcp.tool("test_tool_with_progress", { description: "Reports progress" }, async (_args, ctx) => {
  await ctx.progress(0, 100);
  await sleep(50);
  await ctx.progress(50, 100);
  await sleep(50);
  await ctx.progress(100, 100);
  return "Progress test completed";
});

mcp.tool("test_error_handling", { description: "Always fails" }, () => {
  throw new Error("This tool intentionally returns an error for testing");
});

mcp.tool(
  "test_sampling",
  { description: "Asks the client's model", input: z.object({ prompt: z.string() }) },
  async ({ prompt }, ctx) => {
    const reply = await ctx.sample({
      messages: [{ role: "user", content: { type: "text", text: prompt } }],
      maxTokens: 100,
    });
    const content = Array.isArray(reply.content) ? reply.content[0] : reply.content;
    return `LLM response: ${typeof content?.text === "string" ? content.text : JSON.stringify(content)}`;
  },
);

mcp.tool(
  "test_elicitation",
  { description: "Asks the user for input", input: z.object({ message: z.string() }) },
  async ({ message }, ctx) => {
    const answer = await ctx.elicit({
      message,
      schema: z.object({
        username: z.string().describe("User's response"),
        email: z.string().describe("User's email address"),
      }),
    });
    return `User response: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`;
  },
);

mcp.tool(
  "test_elicitation_sep1034_defaults",
  { description: "Elicitation with default values" },
  async (_args, ctx) => {
    const answer = await ctx.elicit({
      message: "Please review the defaults",
      schema: z.object({
        name: z.string().default("John Doe"),
        age: z.int().default(30),
        score: z.number().default(95.5),
        status: z.enum(["active", "inactive", "pending"]).default("active"),
        verified: z.boolean().default(true),
      }),
    });
    return `Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`;
  },
);

mcp.tool(
  "test_elicitation_sep1330_enums",
  { description: "Elicitation with every enum style" },
  async (_args, ctx) => {
    const answer = await ctx.elicit({
      message: "Pick some options",
      schema: {
        type: "object",
        properties: {
          untitledSingle: { type: "string", enum: ["option1", "option2", "option3"] },
          titledSingle: {
            type: "string",
            oneOf: [
              { const: "value1", title: "First Option" },
              { const: "value2", title: "Second Option" },
              { const: "value3", title: "Third Option" },
            ],
          },
          legacyEnum: {
            type: "string",
            enum: ["opt1", "opt2", "opt3"],
            enumNames: ["Option One", "Option Two", "Option Three"],
          },
          untitledMulti: {
            type: "array",
            items: { type: "string", enum: ["option1", "option2", "option3"] },
          },
          titledMulti: {
            type: "array",
            items: {
              anyOf: [
                { const: "value1", title: "First Choice" },
                { const: "value2", title: "Second Choice" },
                { const: "value3", title: "Third Choice" },
              ],
            },
          },
        },
      },
    });
    return `Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`;
  },
);

mcp.tool(
  "test_reconnection",
  { description: "Closes its SSE connection, then finishes; the client resumes to get the result" },
  async (_args, ctx) => {
    ctx.closeConnection();
    await sleep(100);
    return "Reconnection test completed successfully.";
  },
);

mcp.tool(
  "json_schema_2020_12_tool",
  {
    description: "Tool with JSON Schema 2020-12 features",
    input: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: {
        address: {
          type: "object",
          properties: { street: { type: "string" }, city: { type: "string" } },
        },
      },
      properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
      additionalProperties: false,
    },
  },
  (args) => `Received: ${JSON.stringify(args)}`,
);

mcp.resource(
  "test://static-text",
  { name: "static-text", description: "A static text resource", mimeType: "text/plain" },
  () => "This is the content of the static text resource.",
);

mcp.resource(
  "test://static-binary",
  { name: "static-binary", description: "A static binary resource", mimeType: "image/png" },
  () => ({ blob: PNG }),
);

mcp.resource(
  "test://watched-resource",
  { name: "watched-resource", description: "A resource to subscribe to", mimeType: "text/plain" },
  () => "Watched resource content",
);

mcp.resource(
  "test://template/{id}/data",
  { name: "template-data", description: "Data by id", mimeType: "application/json" },
  ({ id }) => JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
);

mcp.prompt(
  "test_simple_prompt",
  { description: "A prompt without arguments" },
  () => "This is a simple prompt for testing.",
);

mcp.prompt(
  "test_prompt_with_arguments",
  {
    description: "A prompt with arguments",
    args: z.object({
      arg1: z.string().describe("First test argument"),
      arg2: z.string().describe("Second test argument"),
    }),
    complete: {
      arg1: (value) => ["paris", "park", "party", "test"].filter((v) => v.startsWith(value)),
    },
  },
  ({ arg1, arg2 }) => `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`,
);

mcp.prompt(
  "test_prompt_with_embedded_resource",
  {
    description: "A prompt with an embedded resource",
    args: z.object({ resourceUri: z.string().describe("URI of the resource to embed") }),
  },
  ({ resourceUri }) => [
    {
      role: "user",
      content: {
        type: "resource",
        resource: {
          uri: resourceUri,
          mimeType: "text/plain",
          text: "Embedded resource content for testing.",
        },
      },
    },
    { role: "user", content: "Please process the embedded resource above." },
  ],
);

mcp.prompt("test_prompt_with_image", { description: "A prompt with an image" }, () => [
  { role: "user", content: { type: "image", data: PNG, mimeType: "image/png" } },
  { role: "user", content: "Please analyze the image above." },
]);

// Tasks (the io.modelcontextprotocol/tasks extension of 2026-07-28, and 2025-11-25 tasks).

/** A sleep that ends early, by rejecting, when the call or its task is cancelled. */
const cancellable = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", stop, { once: true });
  });

mcp.tool(
  "greet",
  { description: "Greets by name, at once", input: z.object({ name: z.string() }) },
  ({ name }) => `Hello, ${name}!`,
);

mcp.tool(
  "slow_compute",
  {
    description: "Sleeps for the given seconds, as a task unless that is 0",
    input: z.object({ seconds: z.number().min(0).max(600), label: z.string().optional() }),
    taskSupport: "optional",
  },
  async ({ seconds, label }, ctx) => {
    if (seconds > 0) await ctx.startTask();
    await cancellable(seconds * 1000, ctx.signal);
    return `Computed ${label ?? "result"} after ${seconds}s`;
  },
);

mcp.tool(
  "failing_job",
  { description: "Fails as a tool after a second", taskSupport: "required" },
  async (_args, ctx) => {
    await cancellable(1000, ctx.signal);
    throw new Error("Tool execution failed");
  },
);

mcp.tool(
  "protocol_error_job",
  { description: "Fails with a protocol error", taskSupport: "required" },
  () => {
    throw new McpError(-32603, "Protocol task failed");
  },
);

mcp.tool(
  "confirm_delete",
  {
    description: "Asks for confirmation inside its task",
    input: z.object({ filename: z.string() }),
    taskSupport: "optional",
  },
  async ({ filename }, ctx) => {
    await ctx.startTask();
    const answer = await ctx.elicit({
      message: `Delete ${filename}?`,
      schema: z.object({ confirm: z.boolean() }),
    });
    return answer.content?.confirm ? `Deleted ${filename}` : `Kept ${filename}`;
  },
);

mcp.tool(
  "multi_input",
  { description: "Asks two questions at once inside its task", taskSupport: "optional" },
  async (_args, ctx) => {
    await ctx.startTask();
    const [first, second] = await Promise.all([
      ctx.elicit({ message: "First name?", schema: z.object({ name: z.string() }) }),
      ctx.elicit({ message: "Second name?", schema: z.object({ name: z.string() }) }),
    ]);
    return `Got ${first.content?.name} and ${second.content?.name}`;
  },
);

mcp.tool(
  "test_tool_with_task",
  { description: "Asks a name before its task starts", taskSupport: "required" },
  async (_args, ctx) => {
    // Before startTask the question is a multi round-trip round of the tools/call itself.
    const answer = await ctx.elicit({
      message: "What is your name?",
      schema: z.object({ name: z.string() }),
    });
    await ctx.startTask();
    return `Hello, ${answer.content?.name}!`;
  },
);

const app = mcpApp(mcp, { sessions: true, eventStore: memoryEventStore() });
const running = await serve(app, {
  port: Number(process.env.PORT ?? 3001),
  hostname: process.env.HOST ?? "127.0.0.1",
});
console.log(`conformance server at ${running.url.replace("127.0.0.1", "localhost")}/mcp`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void running.close().then(() => process.exit(0)));
}
