/**
 * `portcullis gateway`: OAuth in front of existing MCP servers, from flags (`--stdio`,
 * `--url`) or a JSON file naming several upstreams. The built-in authorization server with
 * dev login, on loopback.
 */
import { readFile } from "node:fs/promises";
import { type Gateway, gateway } from "../../gateway/gateway.ts";
import type { UpstreamOptions } from "../../gateway/options.ts";
import { stdioUpstream } from "../gateway.ts";
import { serve } from "../serve.ts";
import { UsageError, type Values } from "./args.ts";
import { expand } from "./expand.ts";
import { gatewayAuth } from "./gateway-auth.ts";

/** A running gateway command. */
export interface RunningGateway {
  /** The protected MCP endpoint. */
  url: string;
  /** How callers sign in: dev login, a provider's login, or the issuer whose tokens are accepted. */
  signIn: string;
  /** With a provider's login: the callback URL to register at the provider. */
  callback?: string;
  gateway: Gateway;
  close(): Promise<void>;
}

/** Splits a command line on spaces, keeping "quoted" or 'quoted' words whole. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    words.push(match[1] ?? match[2] ?? match[3]!);
  }
  return words;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`${where} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function strings(
  value: unknown,
  where: string,
  env: Record<string, string | undefined>,
): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(record(value, where))) {
    if (typeof item !== "string") throw new UsageError(`${where}.${key} must be a string`);
    out[key] = expand(item, env, `${where}.${key}`);
  }
  return out;
}

/** One upstream of a config file: `{ command, args, env }` or `{ url, headers }`, plus options. */
function upstreamOf(
  name: string,
  value: unknown,
  env: Record<string, string | undefined>,
): UpstreamOptions {
  const where = `upstreams.${name}`;
  const spec = record(value, where);
  const options: UpstreamOptions = { name };
  if (typeof spec.command === "string") {
    const args = spec.args ?? [];
    if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
      throw new UsageError(`${where}.args must be a list of strings`);
    }
    const childEnv = strings(spec.env, `${where}.env`, env);
    if (spec.stderr !== undefined && spec.stderr !== "inherit" && spec.stderr !== "capture") {
      throw new UsageError(`${where}.stderr must be "inherit" or "capture"`);
    }
    const startup = spec.startupSeconds;
    if (startup !== undefined && !(typeof startup === "number" && startup > 0)) {
      throw new UsageError(`${where}.startupSeconds must be a positive number`);
    }
    options.transport = stdioUpstream({
      command: spec.command,
      args,
      ...(childEnv && { env: childEnv }),
      ...(typeof spec.cwd === "string" && { cwd: spec.cwd }),
      ...(spec.stderr === "capture" && { stderr: "capture" }),
      ...(startup !== undefined && { startupTimeoutMs: startup * 1000 }),
    });
  } else if (typeof spec.url === "string") {
    options.url = spec.url;
    const headers = strings(spec.headers, `${where}.headers`, env);
    if (headers) options.headers = headers;
  } else {
    throw new UsageError(`${where} needs a "command" or a "url"`);
  }
  if (spec.isolation !== undefined) options.isolation = spec.isolation as "shared" | "per-user";
  if (spec.scopes !== undefined) {
    options.scopes = record(spec.scopes, `${where}.scopes`) as Record<string, string[]>;
  }
  if (typeof spec.identityHeader === "string") options.identityHeader = spec.identityHeader;
  if (typeof spec.maxInstances === "number") options.maxInstances = spec.maxInstances;
  if (typeof spec.idleSeconds === "number") options.idleMs = spec.idleSeconds * 1000;
  return options;
}

/** The upstreams and port a command line names: a config file, or one --stdio / --url. */
async function configOf(
  file: string | undefined,
  values: Values,
  env: Record<string, string | undefined>,
): Promise<{
  upstreams: UpstreamOptions[];
  port: number | undefined;
  file?: Record<string, unknown>;
}> {
  const flags = [values.stdio, values.url].filter((flag) => flag !== undefined).length;
  if ((file === undefined ? 0 : 1) + flags !== 1) {
    throw new UsageError("Give the gateway one of: a config file, --stdio or --url");
  }
  if (values.stdio !== undefined) {
    const [command, ...args] = splitCommand(values.stdio);
    if (!command) throw new UsageError("--stdio needs a command");
    return {
      upstreams: [{ name: "upstream", transport: stdioUpstream({ command, args }) }],
      port: undefined,
    };
  }
  if (values.url !== undefined) {
    return { upstreams: [{ name: "upstream", url: values.url }], port: undefined };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file!, "utf8"));
  } catch (error) {
    throw new UsageError(`Cannot read ${file}: ${error instanceof Error ? error.message : error}`);
  }
  const config = record(parsed, file!);
  const upstreams = Object.entries(record(config.upstreams, "upstreams")).map(([name, spec]) =>
    upstreamOf(name, spec, env),
  );
  return {
    upstreams,
    port: typeof config.port === "number" ? config.port : undefined,
    file: config,
  };
}

function portOf(value: string | undefined, fallback: number | undefined): number {
  if (value === undefined) return fallback ?? 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port must be a port number, not ${value}`);
  }
  return port;
}

/** Starts the gateway a command line describes, on loopback; resolves once it serves. */
export async function startGatewayCommand(
  file: string | undefined,
  values: Values,
  env: Record<string, string | undefined>,
): Promise<RunningGateway> {
  const config = await configOf(file, values, env);
  const port = portOf(values.port, config.port);
  const { auth, signIn, callbackPath } = gatewayAuth(values, config.file, env);
  const running = await gateway({ upstreams: config.upstreams, auth });
  try {
    const server = await serve(running.app, { port, hostname: "127.0.0.1" });
    const base = server.url.replace("127.0.0.1", "localhost");
    return {
      url: `${base}/mcp`,
      signIn,
      ...(callbackPath !== undefined && { callback: `${base}${callbackPath}` }),
      gateway: running,
      close: async () => {
        await server.close();
        await running.close();
      },
    };
  } catch (error) {
    await running.close();
    throw error;
  }
}
