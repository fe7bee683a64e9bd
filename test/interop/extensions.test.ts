/**
 * Extensions across implementations, over loopback HTTP, in the directions the other tests
 * leave out:
 * - the official v2 client (`@modelcontextprotocol/client` 2.x) runs a task-capable tool on
 *   our server as a task (2025-11-25 `params.task`, then `tasks/get`, `tasks/result`,
 *   `tasks/cancel`): it has no 2026 tasks-extension API, so this is the era it speaks;
 * - our McpClient against the official v1 SDK's experimental task server (`registerToolTask`);
 * - our McpClient against an Apps tool and view registered on the official v2 server with the
 *   Apps SDK's server helpers (`registerAppTool`, `registerAppResource`), read with `readToolUi`.
 */
import { Client as ClientV2, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { SkillsClient, SkillVerificationError } from "@modelcontextprotocol/client/ext/skills";
import {
  RESOURCE_MIME_TYPE,
  registerAppResource,
  registerAppTool,
} from "@modelcontextprotocol/ext-apps/server";
import {
  InMemoryTaskMessageQueue,
  InMemoryTaskStore,
} from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";
import { McpServer as V1Server } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport as V1Transport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import {
  createMcpHandler,
  McpServer as V2Server,
  WebStandardStreamableHTTPServerTransport as V2Transport,
} from "@modelcontextprotocol/server";
import { memorySkillFiles, SkillsExtension } from "@modelcontextprotocol/server/ext/skills";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type McpClient, readToolUi, Skills } from "../../src/client/index.ts";
import { McpServer, serveSkills } from "../../src/index.ts";
import { client, serve } from "../client/support.ts";
import { deferred } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function ours(url: string, protocolVersion?: string): Promise<McpClient> {
  const made = client(protocolVersion ? { protocolVersion } : {}).client;
  await made.connect(url);
  closers.push(() => made.close());
  return made;
}

// (a) The official v2 client runs our task-capable tools as tasks.

const TaskShape = z.object({
  taskId: z.string(),
  status: z.string(),
  ttl: z.number().nullable().optional(),
});
const CreateTask = z.object({ task: TaskShape });
const ToolResult = z.object({
  content: z.array(z.object({ type: z.string(), text: z.string().optional() })),
  isError: z.boolean().optional(),
});

function taskServer() {
  const gate = deferred<void>();
  const started = deferred<void>();
  const aborted = deferred<void>();
  const mcp = new McpServer({ name: "tasks-interop", version: "1.0.0" });
  mcp.tool(
    "render",
    { input: z.object({ scene: z.string() }), taskSupport: "required" },
    async ({ scene }) => {
      started.resolve();
      await gate.promise;
      return `rendered ${scene}`;
    },
  );
  mcp.tool("slow", { taskSupport: "optional" }, async (_args, ctx) => {
    started.resolve();
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    aborted.resolve();
    return "never seen";
  });
  mcp.tool("plain", {}, () => "plain");
  return { mcp, gate, started, aborted };
}

/** The official v2 client; "auto" negotiates 2026-07-28, "legacy" stays on 2025-11-25. */
async function officialClient(url: string, mode: "auto" | "legacy" = "legacy"): Promise<ClientV2> {
  const official = new ClientV2(
    { name: "sdk-v2", version: "2.0.0" },
    {
      capabilities: {},
      ...(mode === "auto" ? { versionNegotiation: { mode: "auto" as const } } : {}),
    },
  );
  await official.connect(new StreamableHTTPClientTransport(new URL(url)));
  closers.push(() => official.close());
  return official;
}

describe("the official v2 client, tasks on our server", () => {
  it("sees task support, starts a task, polls it and takes its result", async () => {
    const server = taskServer();
    const official = await officialClient(await serve(server.mcp, { sessions: true }));
    expect(official.getServerCapabilities()?.tasks).toMatchObject({
      requests: { tools: { call: {} } },
    });
    const { tools } = await official.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get("render")?.execution?.taskSupport).toBe("required");
    expect(byName.get("slow")?.execution?.taskSupport).toBe("optional");
    expect(byName.get("plain")?.execution?.taskSupport).toBeUndefined();

    const created = await official.request(
      {
        method: "tools/call",
        params: { name: "render", arguments: { scene: "a" }, task: { ttl: 60_000 } },
      },
      CreateTask,
    );
    const { taskId } = created.task;
    expect(created.task.status).toBe("working");
    await server.started.promise;
    const polled = await official.request({ method: "tasks/get", params: { taskId } }, TaskShape);
    expect(polled).toMatchObject({ taskId, status: "working" });

    server.gate.resolve();
    const result = await official.request(
      { method: "tasks/result", params: { taskId } },
      ToolResult,
    );
    expect(result.content).toEqual([{ type: "text", text: "rendered a" }]);
    const done = await official.request({ method: "tasks/get", params: { taskId } }, TaskShape);
    expect(done.status).toBe("completed");
  });

  it("cancels a task it started, and the tool's signal aborts", async () => {
    const server = taskServer();
    const official = await officialClient(await serve(server.mcp, { sessions: true }));
    const created = await official.request(
      { method: "tools/call", params: { name: "slow", arguments: {}, task: { ttl: 60_000 } } },
      CreateTask,
    );
    await server.started.promise;
    const cancelled = await official.request(
      { method: "tasks/cancel", params: { taskId: created.task.taskId } },
      TaskShape,
    );
    expect(cancelled.status).toBe("cancelled");
    await server.aborted.promise;
    const after = await official.request(
      { method: "tasks/get", params: { taskId: created.task.taskId } },
      TaskShape,
    );
    expect(after.status).toBe("cancelled");
  });

  it("gets -32602 for an unknown task id, and -32601 asking a plain tool for a task", async () => {
    const server = taskServer();
    const official = await officialClient(await serve(server.mcp, { sessions: true }));
    await expect(
      official.request({ method: "tasks/get", params: { taskId: "no-such-task" } }, TaskShape),
    ).rejects.toMatchObject({ code: -32602 });
    await expect(
      official.request(
        { method: "tools/call", params: { name: "plain", arguments: {}, task: { ttl: 1_000 } } },
        CreateTask,
      ),
    ).rejects.toMatchObject({ code: -32601 });
  });
});

// (b1) Our client against the official v1 SDK's experimental task server.

/** A stateful v1 server whose `render` task ends when the test opens the gate. */
async function v1TaskServer() {
  const gate = deferred<void>();
  const taskStore = new InMemoryTaskStore();
  const server = new V1Server(
    { name: "sdk-tasks", version: "1.0.0" },
    {
      capabilities: { tasks: { requests: { tools: { call: {} } }, list: {}, cancel: {} } },
      taskStore,
      taskMessageQueue: new InMemoryTaskMessageQueue(),
    },
  );
  server.experimental.tasks.registerToolTask(
    "render",
    { inputSchema: { scene: z.string() }, execution: { taskSupport: "required" } },
    {
      async createTask({ scene }, { taskStore: store, taskRequestedTtl }) {
        const task = await store.createTask({ ttl: taskRequestedTtl ?? null });
        void gate.promise.then(() =>
          store.storeTaskResult(task.taskId, "completed", {
            content: [{ type: "text", text: `sdk rendered ${scene}` }],
          }),
        );
        return { task };
      },
      getTask: (_args, { taskId, taskStore: store }) => store.getTask(taskId),
      // The store keeps any Result; this one only ever holds the tool result stored above.
      getTaskResult: async (_args, { taskId, taskStore: store }) =>
        (await store.getTaskResult(taskId)) as CallToolResult,
    },
  );
  const transport = new V1Transport({ sessionIdGenerator: () => crypto.randomUUID() });
  await server.connect(transport);
  closers.push(() => server.close());
  const app = new Hono();
  app.all("/mcp", (c) => transport.handleRequest(c.req.raw));
  return { url: `${await listen(app)}/mcp`, gate, taskStore };
}

describe("our client, tasks on the official v1 SDK's server", () => {
  it("starts a task, sees it working, and takes the result once it completes", async () => {
    const sdk = await v1TaskServer();
    const mine = await ours(sdk.url);
    const handle = await mine.startTool("render", { scene: "b" }, { ttlMs: 60_000 });
    expect(handle.id).toEqual(expect.any(String));
    expect(handle.status).toBe("working");
    expect((await sdk.taskStore.getTask(handle.id!))?.status).toBe("working");
    const polled = await handle.poll();
    expect(polled.status).toBe("working");

    sdk.gate.resolve();
    const result = await handle.result();
    expect(result.content).toEqual([{ type: "text", text: "sdk rendered b" }]);
    expect(handle.status).toBe("completed");
  });

  it("takes up a task by its id alone (McpClient.task)", async () => {
    const sdk = await v1TaskServer();
    const mine = await ours(sdk.url);
    const handle = await mine.startTool("render", { scene: "c" }, { ttlMs: 60_000 });
    sdk.gate.resolve();
    const again = mine.task(handle.id!);
    const result = await again.result();
    expect(result.content).toEqual([{ type: "text", text: "sdk rendered c" }]);
  });

  it("cancels a task, and the SDK's store records it as cancelled", async () => {
    const sdk = await v1TaskServer();
    const mine = await ours(sdk.url);
    const handle = await mine.startTool("render", { scene: "d" }, { ttlMs: 60_000 });
    await handle.cancel();
    expect((await sdk.taskStore.getTask(handle.id!))?.status).toBe("cancelled");
    expect((await handle.poll()).status).toBe("cancelled");
  });

  it("a task id the SDK never made is -32602", async () => {
    const sdk = await v1TaskServer();
    const mine = await ours(sdk.url);
    await expect(mine.task("no-such-task").poll()).rejects.toMatchObject({ code: -32602 });
  });
});

/**
 * An official v2 server on Hono: "handler" is `createMcpHandler` (2026-07-28, a server per
 * request), "sessions" its McpServer on the Web-standard transport (2025-11-25).
 */
async function sdkServer(
  kind: "handler" | "sessions",
  setup: (server: V2Server) => void,
): Promise<string> {
  const make = () => {
    const server = new V2Server({ name: "sdk-v2", version: "1.0.0" });
    setup(server);
    return server;
  };
  const app = new Hono();
  if (kind === "handler") {
    const handler = createMcpHandler(make);
    app.all("/mcp", (c) => handler.fetch(c.req.raw));
  } else {
    const server = make();
    const transport = new V2Transport({ sessionIdGenerator: () => crypto.randomUUID() });
    await server.connect(transport);
    closers.push(() => server.close());
    app.all("/mcp", (c) => transport.handleRequest(c.req.raw));
  }
  return `${await listen(app)}/mcp`;
}

// (b2) Our client against an Apps tool on the official v2 server, made with the Apps SDK.

const VIEW = "<!doctype html><html><body>sdk weather</body></html>";

/** The Apps SDK's server helpers register a view and two app tools. */
function appsSetup(server: V2Server): void {
  registerAppResource(
    server,
    "Weather view",
    "ui://weather/view.html",
    {
      description: "The weather view",
      _meta: { ui: { csp: { connectDomains: ["https://api.weather.example"] } } },
    },
    async () => ({
      contents: [
        {
          uri: "ui://weather/view.html",
          mimeType: RESOURCE_MIME_TYPE,
          text: VIEW,
          _meta: {
            ui: {
              csp: { connectDomains: ["https://api.weather.example"] },
              permissions: { geolocation: {} },
            },
          },
        },
      ],
    }),
  );
  registerAppTool(
    server,
    "show_weather",
    {
      description: "Shows the weather",
      inputSchema: z.object({ city: z.string() }),
      _meta: { ui: { resourceUri: "ui://weather/view.html" } },
    },
    async ({ city }) => ({ content: [{ type: "text", text: `sunny in ${city}` }] }),
  );
  registerAppTool(
    server,
    "refresh_weather",
    {
      description: "Only the view calls this",
      _meta: { ui: { resourceUri: "ui://weather/view.html", visibility: ["app"] } },
    },
    async () => ({ content: [{ type: "text", text: "refreshed" }] }),
  );
}

describe("our client, an Apps tool on the official v2 server", () => {
  it.each(["auto", "2025-11-25"])(
    "(%s) reads the tool's view with readToolUi, and calls the tool",
    async (version) => {
      const url = await sdkServer(version === "auto" ? "handler" : "sessions", appsSetup);
      const mine = await ours(url, version);
      expect(mine.protocolVersion).toBe(version === "auto" ? "2026-07-28" : "2025-11-25");
      const ui = await readToolUi(mine, "show_weather");
      expect(ui).toBeDefined();
      expect(ui?.uri).toBe("ui://weather/view.html");
      expect(ui?.html).toBe(VIEW);
      expect(ui?.meta.csp).toEqual({ connectDomains: ["https://api.weather.example"] });
      expect(ui?.meta.permissions).toEqual({ geolocation: {} });
      expect(ui?.visibility).toEqual(["model", "app"]);

      const appOnly = await readToolUi(mine, "refresh_weather");
      expect(appOnly?.visibility).toEqual(["app"]);
      expect(await readToolUi(mine, "no_such_tool")).toBeUndefined();

      const result = await mine.callTool("show_weather", { city: "Oslo" });
      expect(result.content).toEqual([{ type: "text", text: "sunny in Oslo" }]);
    },
  );
});

// Skills (SEP-2640): the official v2 SkillsClient against our server, our Skills client
// against the official v2 server's SkillsExtension.

const SKILL_MD = "---\nname: pdf-tools\ndescription: Works with PDF files\n---\n# PDF tools\n";
const FORMS = "# Forms: ünïcode counts in bytes\n";

describe("Skills across implementations", () => {
  it.each(["auto", "legacy"] as const)(
    "the official SkillsClient (%s negotiation) lists our skills and verifies the files it reads",
    async (mode) => {
      const mcp = new McpServer({ name: "skills-interop", version: "1.0.0" });
      serveSkills(mcp, {
        skills: [
          { path: "pdf-tools", files: { "SKILL.md": SKILL_MD, "references/FORMS.md": FORMS } },
          {
            path: "hidden",
            listed: false,
            files: { "SKILL.md": "---\nname: hidden\ndescription: Not listed\n---\n" },
          },
        ],
      });
      const official = await officialClient(await serve(mcp, { sessions: true }), mode);
      expect(official.getNegotiatedProtocolVersion()).toBe(
        mode === "auto" ? "2026-07-28" : "2025-11-25",
      );
      const skills = new SkillsClient(official);
      expect(skills.supported).toBe(true);
      const listing = await skills.list();
      expect(listing.skills.map((skill) => skill.uri)).toEqual(["skill://pdf-tools/SKILL.md"]);
      const [entry] = listing.skills;
      const manifest = await skills.read(entry!);
      expect(manifest.text).toBe(SKILL_MD);
      const forms = await skills.read(entry!, "references/FORMS.md");
      expect(forms.text).toBe(FORMS);
      const hidden = await skills.get("skill://hidden/SKILL.md");
      expect(hidden.skill.frontmatter).toMatchObject({ name: "hidden" });
      await expect(skills.read(entry!, "references/NOT-THERE.md")).rejects.toBeInstanceOf(
        SkillVerificationError,
      );
    },
  );

  it.each(["auto", "2025-11-25"])(
    "our Skills client (%s) lists, loads and reads the official server's skills",
    async (version) => {
      const catalog = await SkillsExtension.load(
        memorySkillFiles({
          "pdf-tools/SKILL.md": SKILL_MD,
          "pdf-tools/references/FORMS.md": FORMS,
        }),
      );
      const url = await sdkServer(version === "auto" ? "handler" : "sessions", (server) =>
        catalog.attach(server),
      );
      const mine = await ours(url, version);
      expect(mine.protocolVersion).toBe(version === "auto" ? "2026-07-28" : "2025-11-25");

      const skills = new Skills(mine);
      expect(skills.supported).toBe(true);
      const entries = await skills.list();
      expect(entries.map((entry) => entry.uri)).toEqual(["skill://pdf-tools/SKILL.md"]);
      expect(entries[0]?.frontmatter).toMatchObject({
        name: "pdf-tools",
        description: "Works with PDF files",
      });
      const loaded = await skills.load(entries[0]!);
      expect(loaded.text).toBe(SKILL_MD);
      expect(await skills.read(loaded, "references/FORMS.md")).toBe(FORMS);
      await expect(skills.read(loaded, "references/NOT-THERE.md")).rejects.toMatchObject({
        code: "ERR_SKILL_UNLISTED",
      });
    },
  );
});
