/**
 * The server the official MCP conformance suite runs against: every fixture its server
 * scenarios look for, written on the public API only. Stateful with an event store, so the
 * session, SSE polling and resumability scenarios apply. One server answers both suites:
 * 0.1.16 (scripts/conformance.sh, 2025 revisions) and 0.2.0-alpha (scripts/conformance-alpha.sh,
 * 2025-11-25, 2026-07-28 and the tasks extension); notes/conformance-alpha.md lists which
 * scenario uses which fixture.
 *
 *   npm run conformance:server   # http://localhost:$PORT/mcp, PORT defaults to 3001
 */
import { z } from "zod";
import {
  McpError,
  McpServer,
  mcpApp,
  memoryEventStore,
  serveSkills,
  ToolError,
} from "../src/index.ts";
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

// Published exactly as written, keywords zod cannot express included (SEP-1613, SEP-2106).
mcp.tool(
  "json_schema_2020_12_tool",
  {
    description: "Tool with JSON Schema 2020-12 features",
    input: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: {
        address: {
          $anchor: "addressDef",
          type: "object",
          properties: { street: { type: "string" }, city: { type: "string" } },
        },
      },
      properties: {
        name: { type: "string" },
        address: { $ref: "#/$defs/address" },
        contactMethod: { type: "string", enum: ["phone", "email"] },
        phone: { type: "string" },
        email: { type: "string" },
      },
      allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
      if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
      // biome-ignore lint/suspicious/noThenProperty: "then" is a JSON Schema keyword here, not a thenable
      then: { required: ["phone"] },
      else: { required: ["email"] },
      additionalProperties: false,
    },
  },
  (args) => `Received: ${JSON.stringify(args)}`,
);

// 2026-07-28 diagnostics (server-stateless, http-custom-header-server-validation).

mcp.tool(
  "test_missing_capability",
  { description: "Needs sampling; refused with -32021 when the client does not declare it" },
  async (_args, ctx) => {
    const reply = await ctx.sample({
      messages: [{ role: "user", content: { type: "text", text: "Say hello" } }],
      maxTokens: 20,
    });
    const content = Array.isArray(reply.content) ? reply.content[0] : reply.content;
    return `Sampled: ${typeof content?.text === "string" ? content.text : "(no text)"}`;
  },
);

mcp.tool(
  "test_streaming_elicitation",
  { description: "Asks the user mid-call; under 2026-07-28 that is an InputRequiredResult" },
  async (_args, ctx) => {
    const answer = await ctx.elicit(
      { message: "Continue?", schema: z.object({ proceed: z.boolean() }) },
      { key: "proceed" },
    );
    return `Streaming elicitation finished: ${answer.action}`;
  },
);

mcp.tool(
  "test_logging_tool",
  { description: "Logs at every level; a 2026-07-28 request that set no logLevel gets none" },
  (_args, ctx) => {
    ctx.log.debug("debug detail");
    ctx.log.info("Diagnostic trace");
    ctx.log.error("an error worth reporting");
    return "Logging evaluated";
  },
);

// Toggled by the trigger tools, so each trigger really changes what tools/list and
// prompts/list return (and subscriptions/listen streams hear about it).
const dynamicTool = mcp.tool(
  "test_dynamic_tool",
  { description: "Listed or not, as test_trigger_tool_change toggles it" },
  () => "Dynamic tool",
);
dynamicTool.disable();
const dynamicPrompt = mcp.prompt(
  "test_dynamic_prompt",
  { description: "Listed or not, as test_trigger_prompt_change toggles it" },
  () => "Dynamic prompt",
);
dynamicPrompt.disable();

mcp.tool(
  "test_trigger_tool_change",
  { description: "Changes the tool list (toggles test_dynamic_tool)" },
  () => {
    if (dynamicTool.enabled) dynamicTool.disable();
    else dynamicTool.enable();
    return "Tool list changed";
  },
);

mcp.tool(
  "test_trigger_prompt_change",
  { description: "Changes the prompt list (toggles test_dynamic_prompt)" },
  () => {
    if (dynamicPrompt.enabled) dynamicPrompt.disable();
    else dynamicPrompt.enable();
    return "Prompt list changed";
  },
);

mcp.tool(
  "test_x_mcp_header",
  {
    description: "Mirrors its region argument into the Mcp-Param-Region header (2026-07-28)",
    input: {
      type: "object",
      properties: {
        region: { type: "string", description: "Where to run", "x-mcp-header": "Region" },
        query: { type: "string", description: "What to run" },
      },
      required: ["region"],
    },
  },
  (args) => `Ran ${typeof args.query === "string" ? args.query : "nothing"} in ${args.region}`,
);

// Multi round-trip requests (2026-07-28, input-required-result-* scenarios). Under the 2025
// revisions the same calls are server-to-client requests on the SSE stream. The keys are the
// ones the scenarios name; unnamed inputs would be keyed input-0, input-1, ...

const NAME = z.object({ name: z.string() });
const textOf = (reply: { content: unknown }) => {
  const content = Array.isArray(reply.content) ? reply.content[0] : reply.content;
  return typeof content === "object" && content !== null && "text" in content
    ? String(content.text)
    : "(no text)";
};

mcp.tool(
  "test_input_required_result_elicitation",
  { description: "Asks the user's name (input key user_name), then greets them" },
  async (_args, ctx) => {
    const answer = await ctx.elicit(
      { message: "What is your name?", schema: NAME },
      { key: "user_name" },
    );
    return answer.action === "accept"
      ? `Hello, ${answer.content.name}!`
      : `No name (${answer.action})`;
  },
);

mcp.tool(
  "test_input_required_result_sampling",
  { description: "Asks the client's model (input key capital_question)" },
  async (_args, ctx) => {
    const reply = await ctx.sample(
      {
        messages: [
          { role: "user", content: { type: "text", text: "What is the capital of France?" } },
        ],
        maxTokens: 100,
      },
      { key: "capital_question" },
    );
    return `The model said: ${textOf(reply)}`;
  },
);

mcp.tool(
  "test_input_required_result_list_roots",
  { description: "Asks the client's roots (input key client_roots)" },
  async (_args, ctx) => {
    const roots = await ctx.listRoots({ key: "client_roots" });
    return `Roots: ${roots.map((root) => root.uri).join(", ") || "(none)"}`;
  },
);

mcp.tool(
  "test_input_required_result_request_state",
  { description: "Asks for a confirmation; the retry must carry the sealed requestState" },
  async (_args, ctx) => {
    const answer = await ctx.elicit(
      { message: "Please confirm", schema: z.object({ ok: z.boolean() }) },
      { key: "confirm" },
    );
    return `state-ok: confirmed=${answer.action === "accept" && answer.content.ok}`;
  },
);

mcp.tool(
  "test_input_required_result_multiple_inputs",
  { description: "Asks for an elicitation, a sampling and the roots in one round" },
  async (_args, ctx) => {
    const [name, greeting, roots] = await Promise.all([
      ctx.elicit({ message: "What is your name?", schema: NAME }, { key: "user_name" }),
      ctx.sample(
        {
          messages: [{ role: "user", content: { type: "text", text: "Generate a greeting" } }],
          maxTokens: 50,
        },
        { key: "greeting" },
      ),
      ctx.listRoots({ key: "client_roots" }),
    ]);
    const who = name.action === "accept" ? name.content.name : name.action;
    return `${textOf(greeting)}, ${who} (${roots.length} roots)`;
  },
);

mcp.tool(
  "test_input_required_result_multi_round",
  { description: "Asks two questions one after the other: two rounds" },
  async (_args, ctx) => {
    const first = await ctx.elicit(
      { message: "Step 1: What is your name?", schema: NAME },
      { key: "step1" },
    );
    const second = await ctx.elicit(
      { message: "Step 2: What is your favorite color?", schema: z.object({ color: z.string() }) },
      { key: "step2" },
    );
    const name = first.action === "accept" ? first.content.name : "someone";
    const color = second.action === "accept" ? second.content.color : "no color";
    return `${name} likes ${color}`;
  },
);

mcp.tool(
  "test_input_required_result_tampered_state",
  { description: "Asks for a confirmation; an altered requestState is refused" },
  async (_args, ctx) => {
    const answer = await ctx.elicit(
      { message: "Please confirm", schema: z.object({ ok: z.boolean() }) },
      { key: "confirm" },
    );
    return `Confirmed: ${answer.action}`;
  },
);

mcp.tool(
  "test_input_required_result_capabilities",
  { description: "Asks only for the inputs the client declared it can give" },
  async (_args, ctx) => {
    const declared = ctx.client.capabilities ?? {};
    const asks: Promise<string>[] = [];
    if (declared.elicitation) {
      asks.push(
        ctx
          .elicit({ message: "What is your name?", schema: NAME }, { key: "user_name" })
          .then((answer) => `elicitation: ${answer.action}`),
      );
    }
    if (declared.sampling) {
      asks.push(
        ctx
          .sample(
            {
              messages: [{ role: "user", content: { type: "text", text: "Say hello" } }],
              maxTokens: 20,
            },
            { key: "hello" },
          )
          .then((reply) => `sampling: ${textOf(reply)}`),
      );
    }
    if (declared.roots) {
      asks.push(ctx.listRoots({ key: "client_roots" }).then((roots) => `roots: ${roots.length}`));
    }
    const answers = await Promise.all(asks);
    return answers.length ? answers.join("; ") : "The client declared nothing to ask";
  },
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

mcp.prompt(
  "test_input_required_result_prompt",
  { description: "A prompt that asks the user for context first (input key user_context)" },
  async (_args, ctx) => {
    const answer = await ctx.elicit(
      {
        message: "What context should the prompt use?",
        schema: z.object({ context: z.string() }),
      },
      { key: "user_context" },
    );
    const context = answer.action === "accept" ? answer.content.context : "no context";
    return `Answer with this context in mind: ${context}`;
  },
);

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
    throw new ToolError("Tool execution failed");
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

// Skills (SEP-2640): two skills, one nested under an organizational prefix, with
// subdirectories so resources/directory/read has directories to list.
serveSkills(mcp, {
  skills: [
    {
      path: "pdf-processing",
      files: {
        "SKILL.md": [
          "---",
          "name: pdf-processing",
          "description: Extract, fill, and assemble PDF documents",
          "license: Apache-2.0",
          "metadata:",
          '  version: "2.1.0"',
          "---",
          "",
          "# PDF processing",
          "",
          "Fill forms with references/FORMS.md; pick a template from templates/.",
          "",
        ].join("\n"),
        "references/FORMS.md": "# Forms\n\nHow to fill PDF forms.\n",
        "templates/invoice.md": "# Invoice\n",
        "templates/regional/eu-invoice.md": "# EU invoice\n",
      },
    },
    {
      path: "acme/billing/refunds",
      files: {
        "SKILL.md":
          "---\nname: refunds\ndescription: Process customer refund requests per company policy\n---\n\n# Refunds\n",
        "examples/email.md": "Dear customer,\n",
      },
    },
  ],
});

const app = mcpApp(mcp, { sessions: true, eventStore: memoryEventStore() });
const running = await serve(app, {
  port: Number(process.env.PORT ?? 3001),
  hostname: process.env.HOST ?? "127.0.0.1",
});
console.log(`conformance server at ${running.url.replace("127.0.0.1", "localhost")}/mcp`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void running.close().then(() => process.exit(0)));
}
