import type { Readable, Writable } from "node:stream";
import { McpClient } from "../../client/client.ts";
import type { JsonObject } from "../../mcp/types.ts";
import { headers, type Timeouts, UsageError, type Values } from "./args.ts";
import { runProxy } from "./proxy.ts";
import { describe, progressReporter } from "./report.ts";
import { authorizer, endpointFetch, reportingAuthorizer, type SessionIo } from "./session.ts";

/** What a command reads and writes. */
export interface CommandIo extends SessionIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  version: string;
}

interface Run {
  url: URL;
  values: Values;
  timeouts: Timeouts;
  io: CommandIo;
}

/** Connects an McpClient to the server, signing in when it asks. */
async function open({ url, values, timeouts, io }: Run) {
  const auth = await authorizer(url, values, timeouts, io);
  const client = new McpClient({
    name: "portcullis-cli",
    version: io.version,
    requestTimeoutMs: timeouts.requestMs,
  });
  const extra = headers(values);
  io.verbose(`connecting to ${url.href}`);
  await client.connect(url, {
    authorizer: reportingAuthorizer(auth, io),
    fetch: endpointFetch(timeouts.connectMs, io.verbose),
    timeoutMs: timeouts.requestMs,
    ...(extra && { headers: extra }),
  });
  io.verbose(`connected: protocol ${client.protocolVersion}`);
  return { client, auth };
}

export async function connect(run: Run): Promise<number> {
  const { url, values, io } = run;
  const { client, auth } = await open(run);
  try {
    const capabilities = client.serverCapabilities ?? {};
    const collect = async <T>(offered: boolean, items: () => AsyncIterable<T>): Promise<T[]> => {
      const found: T[] = [];
      if (offered) for await (const item of items()) found.push(item);
      return found;
    };
    const tools = await collect("tools" in capabilities, () => client.tools());
    const resources = await collect("resources" in capabilities, () => client.resources());
    const templates = await collect("resources" in capabilities, () => client.resourceTemplates());
    const prompts = await collect("prompts" in capabilities, () => client.prompts());
    if (values.json) {
      const report = {
        server: client.serverInfo,
        protocolVersion: client.protocolVersion,
        ...(auth.session && { authorization: auth.session }),
        tools,
        resources,
        resourceTemplates: templates,
        prompts,
      };
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    const info = client.serverInfo;
    const lines = [
      `Connected to ${info?.name ?? "?"} ${info?.version ?? ""} (protocol ${client.protocolVersion}) at ${url.href}`,
    ];
    if (auth.session) {
      const scope = auth.session.scope ? ` (scope: ${auth.session.scope})` : "";
      lines.push(`Authorized by ${auth.session.issuer}${scope}`);
    }
    lines.push(`Tools (${tools.length}):`, ...tools.map((t) => describe(t.name, t.description)));
    lines.push(
      `Resources (${resources.length}):`,
      ...resources.map((r) => describe(r.uri, r.name)),
    );
    if (templates.length) {
      lines.push(
        `Resource templates (${templates.length}):`,
        ...templates.map((t) => describe(t.uriTemplate, t.description ?? t.name)),
      );
    }
    lines.push(
      `Prompts (${prompts.length}):`,
      ...prompts.map((p) => describe(p.name, p.description)),
    );
    io.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

function toolArguments(text: string | undefined): JsonObject {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError("--args is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError("--args must be a JSON object");
  }
  return parsed as JsonObject;
}

export async function call(run: Run, tool: string | undefined): Promise<number> {
  if (!tool) throw new UsageError("Name the tool to call");
  const args = toolArguments(run.values.args);
  const { io, timeouts } = run;
  const { client } = await open(run);
  const progress = progressReporter(io.stderr);
  try {
    io.verbose(`calling ${tool}`);
    const result = await client.callTool(tool, args, {
      timeoutMs: timeouts.requestMs,
      resetTimeoutOnProgress: true,
      onProgress: (update) => progress.update(update),
    });
    progress.done();
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.isError ? 1 : 0;
  } finally {
    progress.done();
    await client.close();
  }
}

export async function proxy({ url, values, timeouts, io }: Run): Promise<number> {
  const auth = await authorizer(url, values, timeouts, io);
  const extra = headers(values);
  io.verbose(`proxying stdio to ${url.href}`);
  await runProxy({
    url,
    authorizer: reportingAuthorizer(auth, io),
    fetch: endpointFetch(timeouts.connectMs, io.verbose),
    timeoutMs: timeouts.requestMs,
    ...(extra && { headers: extra }),
    input: io.stdin,
    output: io.stdout,
    log: (line) => io.say(`portcullis proxy: ${line}`),
  });
  return 0;
}
