import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { McpClient } from "../../client/client.ts";
import type { Progress } from "../../client/connection.ts";
import { OAuthAuthorizer, type OAuthAuthorizerOptions } from "../../client/oauth/authorizer.ts";
import type { JsonObject } from "../../mcp/types.ts";
import { fileTokenStore } from "../file-token-store.ts";
import { loopbackRedirect } from "../loopback-redirect.ts";
import { resolveHost } from "../resolve-host.ts";
import { runProxy } from "./proxy.ts";

/** What the CLI reads and writes; a test gives its own. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

const USAGE = `Usage:
  portcullis connect <url> [options]          sign in if needed, then list tools, resources, prompts
  portcullis call <url> <tool> [options]      call one tool; the result as JSON on stdout
  portcullis proxy <url> [options]            bridge a stdio MCP client to a remote server

Options:
  --args <json>                 call: the tool's arguments, a JSON object (default {})
  --timeout <seconds>           call: time limit for the call (default 60)
  --json                        connect: print JSON instead of text
  --tokens <file>               encrypted token file (default $PORTCULLIS_TOKENS, else
                                ~/.config/portcullis/tokens.json); its key is
                                $PORTCULLIS_TOKEN_KEY, else <file>.key (created, mode 0600)
  --scope <scopes>              scopes to ask for besides those the server names
  --client-id <id>              a client registered in advance (secret: $PORTCULLIS_CLIENT_SECRET)
  --client-metadata-url <url>   this client's Client ID Metadata Document
  --client-credentials          a machine client: client_credentials, no browser
  --header <name:value>         an extra HTTP header (repeatable)
  --no-open                     print the sign-in URL instead of opening a browser
  --callback-port <port>        the loopback port for the sign-in redirect (default: any)
  --auth-timeout <seconds>      how long to wait for sign-in (default 300)
  -h, --help                    this text

Exit status: 0 done; 1 failed (for call: also a result with isError); 2 usage error.`;

class UsageError extends Error {}

const OPTIONS = {
  args: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  tokens: { type: "string" },
  scope: { type: "string" },
  "client-id": { type: "string" },
  "client-metadata-url": { type: "string" },
  "client-credentials": { type: "boolean" },
  header: { type: "string", multiple: true },
  "no-open": { type: "boolean" },
  "callback-port": { type: "string" },
  "auth-timeout": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>["values"];

function seconds(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new UsageError(`--${name} must be a positive number`);
  return parsed * 1000;
}

function serverUrl(value: string | undefined): URL {
  if (value === undefined) throw new UsageError("Give the server's URL");
  if (!URL.canParse(value)) throw new UsageError(`Not a URL: ${value}`);
  const url = new URL(value);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`Not an http(s) URL: ${value}`);
  }
  return url;
}

function headers(values: Values): Record<string, string> | undefined {
  if (!values.header?.length) return undefined;
  const result: Record<string, string> = {};
  for (const header of values.header) {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new UsageError(`--header wants name:value, not ${header}`);
    result[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  return result;
}

/** The token file's key: from the environment, else a random one kept beside the file. */
async function tokenKey(path: string, env: CliIo["env"]): Promise<string> {
  const given = env.PORTCULLIS_TOKEN_KEY;
  if (given) return given;
  const keyPath = `${path}.key`;
  try {
    return (await readFile(keyPath, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dirname(keyPath), { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString("base64url");
  // wx: two processes starting at once must not each write a different key.
  await writeFile(keyPath, `${key}\n`, { mode: 0o600, flag: "wx" }).catch(async (error) => {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  });
  return (await readFile(keyPath, "utf8")).trim();
}

async function authorizer(url: URL, values: Values, io: CliIo): Promise<OAuthAuthorizer> {
  const path =
    values.tokens ??
    io.env.PORTCULLIS_TOKENS ??
    join(io.env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "portcullis", "tokens.json");
  const options: OAuthAuthorizerOptions = {
    serverUrl: url,
    tokens: fileTokenStore(path, { key: await tokenKey(path, io.env) }),
    resolveHost,
    clientMetadata: { client_name: "portcullis CLI" },
    redirect: loopbackRedirect({
      open: values["no-open"] !== true,
      timeoutMs: seconds(values["auth-timeout"], "auth-timeout", 300),
      print: (link) => io.stderr.write(`Open this URL to sign in:\n  ${link}\n`),
      ...(values["callback-port"] !== undefined && {
        port: Number(values["callback-port"]),
      }),
    }),
  };
  if (values.scope) options.scope = values.scope;
  if (values["client-metadata-url"]) options.clientMetadataUrl = values["client-metadata-url"];
  const clientId = values["client-id"];
  if (clientId) {
    const secret = io.env.PORTCULLIS_CLIENT_SECRET;
    options.client = { clientId, ...(secret && { clientSecret: secret }) };
  }
  if (values["client-credentials"]) {
    if (!options.client?.clientSecret) {
      throw new UsageError("--client-credentials needs --client-id and $PORTCULLIS_CLIENT_SECRET");
    }
    options.clientCredentials = true;
  }
  return new OAuthAuthorizer(options);
}

/** A progress line on stderr: a bar when it is a terminal, plain lines when it is not. */
function progressReporter(stderr: CliIo["stderr"]): {
  update: (progress: Progress) => void;
  done: () => void;
} {
  let drawn = false;
  return {
    update(progress) {
      const message = progress.message ? ` ${progress.message}` : "";
      if (!stderr.isTTY) {
        const of = progress.total === undefined ? "" : `/${progress.total}`;
        stderr.write(`progress ${progress.progress}${of}${message}\n`);
        return;
      }
      const width = 30;
      const bar =
        progress.total && progress.total > 0
          ? (() => {
              const share = Math.min(1, Math.max(0, progress.progress / progress.total));
              const filled = Math.round(share * width);
              return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${Math.round(share * 100)}%`;
            })()
          : `[${progress.progress}]`;
      stderr.write(`\r\x1b[K${bar}${message}`);
      drawn = true;
    },
    done() {
      if (drawn) stderr.write("\r\x1b[K");
    },
  };
}

function describe(name: string, text: string | undefined): string {
  return text ? `  ${name} — ${text.split("\n")[0]}` : `  ${name}`;
}

async function connect(url: URL, values: Values, io: CliIo): Promise<number> {
  const auth = await authorizer(url, values, io);
  const client = new McpClient({ name: "portcullis-cli", version: "0.1.0" });
  const extra = headers(values);
  await client.connect(url, { authorizer: auth, ...(extra && { headers: extra }) });
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

async function call(
  url: URL,
  tool: string | undefined,
  values: Values,
  io: CliIo,
): Promise<number> {
  if (!tool) throw new UsageError("Name the tool to call");
  let args: JsonObject = {};
  if (values.args !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values.args);
    } catch {
      throw new UsageError("--args is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new UsageError("--args must be a JSON object");
    }
    args = parsed as JsonObject;
  }
  const timeoutMs = seconds(values.timeout, "timeout", 60);
  const auth = await authorizer(url, values, io);
  const client = new McpClient({ name: "portcullis-cli", version: "0.1.0" });
  const extra = headers(values);
  await client.connect(url, { authorizer: auth, ...(extra && { headers: extra }) });
  const progress = progressReporter(io.stderr);
  try {
    const result = await client.callTool(tool, args, {
      timeoutMs,
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

async function proxy(url: URL, values: Values, io: CliIo): Promise<number> {
  const auth = await authorizer(url, values, io);
  const extra = headers(values);
  await runProxy({
    url,
    authorizer: auth,
    ...(extra && { headers: extra }),
    input: io.stdin,
    output: io.stdout,
    log: (line) => io.stderr.write(`portcullis proxy: ${line}\n`),
  });
  return 0;
}

/** Runs the CLI with the given arguments (without node and the script); resolves with the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, target, tool, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    (values.help || command === "help" ? io.stdout : io.stderr).write(`${USAGE}\n`);
    return values.help || command === "help" ? 0 : 2;
  }
  try {
    const url = serverUrl(target);
    const extra = command === "call" ? rest : tool === undefined ? rest : [tool, ...rest];
    if (extra.length) throw new UsageError(`Unexpected argument: ${extra[0]}`);
    switch (command) {
      case "connect":
        return await connect(url, values, io);
      case "call":
        return await call(url, tool, values, io);
      case "proxy":
        return await proxy(url, values, io);
      default:
        throw new UsageError(`Unknown command: ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    const code =
      error instanceof Error && "code" in error && typeof error.code === "string"
        ? ` [${error.code}]`
        : "";
    io.stderr.write(
      `portcullis: ${error instanceof Error ? error.message : String(error)}${code}\n`,
    );
    return 1;
  }
}
