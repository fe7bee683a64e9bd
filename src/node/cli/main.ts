import type { Readable, Writable } from "node:stream";
import { parse, serverUrl, timeouts, USAGE, UsageError } from "./args.ts";
import { type CommandIo, call, connect, proxy } from "./commands.ts";
import { startGatewayCommand } from "./gateway.ts";
import { init } from "./init.ts";
import { describeError } from "./report.ts";
import { packageVersion } from "./version.ts";

/** What the CLI reads and writes; a test gives its own. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  /** Where `init` resolves a relative directory. Default: the process's working directory. */
  cwd?: string;
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.version) {
    io.stdout.write(`${await packageVersion()}\n`);
    return 0;
  }
  const [command, target, tool, ...rest] = positionals;
  if (values.help || command === "help") {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === undefined) throw new UsageError("Name a command");
  const say = (line: string) => io.stderr.write(`${line}\n`);
  if (command === "init") {
    const extra = tool === undefined ? rest : [tool, ...rest];
    if (extra.length) throw new UsageError(`Unexpected argument: ${extra[0]}`);
    return init(target, values.template, { cwd: io.cwd ?? process.cwd(), say });
  }
  if (command === "gateway") {
    if (tool !== undefined) throw new UsageError(`Unexpected argument: ${tool}`);
    return runGateway(target, values, io, say);
  }
  const url = serverUrl(target);
  const extra = command === "call" ? rest : tool === undefined ? rest : [tool, ...rest];
  if (extra.length) throw new UsageError(`Unexpected argument: ${extra[0]}`);
  const commandIo: CommandIo = {
    ...io,
    say,
    verbose: values.verbose ? (line) => say(`portcullis: ${line}`) : () => undefined,
    version: await packageVersion(),
  };
  const run = { url, values, timeouts: timeouts(values), io: commandIo };
  switch (command) {
    case "connect":
      return connect(run);
    case "call":
      return call(run, tool);
    case "proxy":
      return proxy(run);
    default:
      throw new UsageError(`Unknown command: ${command}`);
  }
}

/** Serves the gateway until the process is told to stop (SIGINT, SIGTERM). */
async function runGateway(
  file: string | undefined,
  values: Parameters<typeof startGatewayCommand>[1],
  io: CliIo,
  say: (line: string) => void,
): Promise<number> {
  const running = await startGatewayCommand(file, values, io.env);
  for (const upstream of running.gateway.status()) {
    say(
      `portcullis gateway: upstream "${upstream.name}" ${upstream.state} (${upstream.isolation})`,
    );
  }
  say(`portcullis gateway: serving ${running.url} (${running.signIn})`);
  if (running.callback) {
    say(`portcullis gateway: register ${running.callback} as a redirect URI at the provider`);
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await running.close();
  return 0;
}

/** Runs the CLI with the given arguments (without node and the script); resolves with the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    io.stderr.write(`portcullis: ${describeError(error)}\n`);
    return 1;
  }
}
