import { parseArgs } from "node:util";

export const USAGE = `Usage:
  portcullis connect <url> [options]          sign in if needed, then list tools, resources, prompts
  portcullis call <url> <tool> [options]      call one tool; the result as JSON on stdout
  portcullis proxy <url> [options]            bridge a stdio MCP client to a remote server
  portcullis gateway --stdio "<command and args>" | --url <url> | <gateway.json> [--port <port>]
                                              OAuth in front of an existing MCP server (or several,
                                              from a config file) at http://localhost:<port>/mcp
  portcullis init [dir] [--template node|workers]
                                              scaffold a new MCP server project (default: node)

Options:
  --args <json>                 call: the tool's arguments, a JSON object (default {})
  --json                        connect: print JSON instead of text
  --connect-timeout <seconds>   time for the server's first answer (default 10)
  --timeout <seconds>           time for each request's reply (default 60); time spent
                                signing in does not count
  --auth-timeout <seconds>      how long to wait for sign-in in the browser (default 300)
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
  --template <node|workers>     init: the kind of project (default node)
  --stdio <command>             gateway: the upstream program, run with its arguments
  --url <url>                   gateway: the upstream's MCP endpoint
  --port <port>                 gateway: where to listen on loopback (default 3000)
  --issuer <url>                gateway: accept JWT access tokens from this issuer (an OIDC
                                provider or another OAuth server) instead of the built-in
                                authorization server with dev login
  --jwks-url <url>              gateway: the issuer's key set (default: from its metadata)
  --audience <uri>              gateway: the audience tokens must name (default: the endpoint URL)
  --oidc-issuer <url>           gateway: the built-in authorization server signs users in at this
                                OpenID provider instead of dev login (with --oidc-client-id;
                                the secret from $PORTCULLIS_OIDC_CLIENT_SECRET)
  --oidc-client-id <id>         gateway: the gateway's client at that provider
  --verbose                     progress on stderr: discovery, registration, tokens, requests
  --version                     the version of portcullis
  -h, --help                    this text

Results go to stdout, everything else to stderr.
Exit status: 0 done; 1 failed (for call: also a result with isError); 2 usage error.`;

/** A mistake in the command line: reported with the usage text, exit status 2. */
export class UsageError extends Error {}

export const OPTIONS = {
  args: { type: "string" },
  json: { type: "boolean" },
  "connect-timeout": { type: "string" },
  timeout: { type: "string" },
  "auth-timeout": { type: "string" },
  tokens: { type: "string" },
  scope: { type: "string" },
  "client-id": { type: "string" },
  "client-metadata-url": { type: "string" },
  "client-credentials": { type: "boolean" },
  header: { type: "string", multiple: true },
  "no-open": { type: "boolean" },
  "callback-port": { type: "string" },
  template: { type: "string" },
  stdio: { type: "string" },
  url: { type: "string" },
  port: { type: "string" },
  issuer: { type: "string" },
  "jwks-url": { type: "string" },
  audience: { type: "string" },
  "oidc-issuer": { type: "string" },
  "oidc-client-id": { type: "string" },
  verbose: { type: "boolean" },
  version: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export type Parsed = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>;
export type Values = Parsed["values"];

/** Parses the command line; unknown options and missing values are UsageErrors. */
export function parse(argv: readonly string[]): Parsed {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** The time limits of a run, in milliseconds; flags are in seconds. */
export interface Timeouts {
  connectMs: number;
  requestMs: number;
  authMs: number;
}

/** A flag in seconds as milliseconds; `fallback` is in seconds too. */
function seconds(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed <= 0) {
    throw new UsageError(`--${name} must be a positive number of seconds, not ${value}`);
  }
  return parsed * 1000;
}

export function timeouts(values: Values): Timeouts {
  return {
    connectMs: seconds(values["connect-timeout"], "connect-timeout", 10),
    requestMs: seconds(values.timeout, "timeout", 60),
    authMs: seconds(values["auth-timeout"], "auth-timeout", 300),
  };
}

export function serverUrl(value: string | undefined): URL {
  if (value === undefined) throw new UsageError("Give the server's URL");
  if (!URL.canParse(value)) throw new UsageError(`Not a URL: ${value}`);
  const url = new URL(value);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`Not an http(s) URL: ${value}`);
  }
  return url;
}

export function headers(values: Values): Record<string, string> | undefined {
  if (!values.header?.length) return undefined;
  const result: Record<string, string> = {};
  for (const header of values.header) {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new UsageError(`--header wants name:value, not ${header}`);
    result[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  return result;
}

export function callbackPort(values: Values): number | undefined {
  const value = values["callback-port"];
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--callback-port must be a port number, not ${value}`);
  }
  return port;
}
