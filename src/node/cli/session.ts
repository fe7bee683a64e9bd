import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Authorizer } from "../../client/auth-seam.ts";
import { OAuthAuthorizer, type OAuthAuthorizerOptions } from "../../client/oauth/authorizer.ts";
import type { RedirectHandler } from "../../client/oauth/redirect.ts";
import type { IssuerRecord, TokenStore } from "../../client/oauth/store.ts";
import { PortcullisError } from "../../util/errors.ts";
import { fileTokenStore } from "../file-token-store.ts";
import { loopbackRedirect } from "../loopback-redirect.ts";
import { resolveHost } from "../resolve-host.ts";
import { callbackPort, type Timeouts, UsageError, type Values } from "./args.ts";

/** What the commands need from the process: the environment, and where progress goes. */
export interface SessionIo {
  env: Record<string, string | undefined>;
  /** A line for the person (stderr). */
  say: (line: string) => void;
  /** A progress line, printed with --verbose only. */
  verbose: (line: string) => void;
}

/** The token file's key: from the environment, else a random one kept beside the file. */
async function tokenKey(path: string, env: SessionIo["env"]): Promise<string> {
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

/** The token store, telling --verbose when a registration or a token arrives. */
function reportingStore(store: TokenStore, verbose: SessionIo["verbose"]): TokenStore {
  return {
    get: (issuer) => store.get(issuer),
    async set(issuer, record) {
      const before: IssuerRecord | undefined = await store.get(issuer);
      await store.set(issuer, record);
      const client = record?.client;
      if (client && client.clientId !== before?.client?.clientId) {
        const how = client.source === "registration" ? "registered" : "using its metadata document";
        verbose(`client ${client.clientId} ${how} at ${issuer}`);
      }
      for (const [resource, tokens] of Object.entries(record?.tokens ?? {})) {
        if (tokens.accessToken === before?.tokens?.[resource]?.accessToken) continue;
        const left =
          tokens.expiresAt === undefined
            ? ""
            : `, expires in ${Math.max(0, tokens.expiresAt - Math.floor(Date.now() / 1000))} s`;
        const scope = tokens.scope ? ` (scope: ${tokens.scope})` : "";
        verbose(`token from ${issuer} for ${resource}${scope}${left}`);
      }
    },
  };
}

/** The loopback redirect, telling the person where to sign in and --verbose what it waits for. */
function redirect(values: Values, timeouts: Timeouts, io: SessionIo): RedirectHandler {
  const port = callbackPort(values);
  const handler = loopbackRedirect({
    open: values["no-open"] !== true,
    timeoutMs: timeouts.authMs,
    print: (link) => io.say(`Open this URL to sign in:\n  ${link}`),
    ...(port !== undefined && { port }),
  });
  return {
    async start() {
      const session = await handler.start();
      io.verbose(
        `waiting up to ${timeouts.authMs / 1000} s for the browser at ${session.redirectUri}`,
      );
      return session;
    },
  };
}

/** The OAuth authorizer for `url`, with the encrypted token file and the loopback redirect. */
export async function authorizer(
  url: URL,
  values: Values,
  timeouts: Timeouts,
  io: SessionIo,
): Promise<OAuthAuthorizer> {
  const path =
    values.tokens ??
    io.env.PORTCULLIS_TOKENS ??
    join(io.env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "portcullis", "tokens.json");
  io.verbose(`tokens kept in ${path}`);
  const options: OAuthAuthorizerOptions = {
    serverUrl: url,
    tokens: reportingStore(fileTokenStore(path, { key: await tokenKey(path, io.env) }), io.verbose),
    resolveHost,
    // Metadata, registration and token requests: each must be answered as a server must be.
    timeoutMs: timeouts.connectMs,
    clientMetadata: { client_name: "portcullis CLI" },
    redirect: redirect(values, timeouts, io),
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

/** The authorizer, telling --verbose when the server asks for authorization and who gave it. */
export function reportingAuthorizer(inner: OAuthAuthorizer, io: SessionIo): Authorizer {
  const after = (what: string) => (retry: boolean) => {
    const session = inner.session;
    if (retry && session) {
      const scope = session.scope ? ` (scope: ${session.scope})` : "";
      io.verbose(`authorized by ${session.issuer} for ${session.resource}${scope}`);
    } else if (!retry) io.verbose(`${what}: not resolved`);
    return retry;
  };
  return {
    headers: (url) => inner.headers(url),
    onUnauthorized(response) {
      io.verbose("401: the server wants a token; discovering its authorization server");
      return inner.onUnauthorized(response).then(after("401"));
    },
    onForbidden(response) {
      io.verbose("403: the server wants more scope");
      return inner.onForbidden(response).then(after("403"));
    },
  };
}

/** The no-answer error of --connect-timeout. */
export class ConnectTimeoutError extends PortcullisError {
  declare readonly code: "ERR_CONNECT_TIMEOUT";

  constructor(message: string) {
    super("ERR_CONNECT_TIMEOUT", message);
    this.name = "ConnectTimeoutError";
  }
}

/** The JSON-RPC method a POST body carries, for progress lines. */
function methodOf(body: RequestInit["body"]): string | undefined {
  if (typeof body !== "string") return undefined;
  return /"method"\s*:\s*"([^"]+)"/.exec(body)?.[1];
}

/**
 * fetch for the MCP endpoint: until the server has answered once, each request must get its
 * answer's headers within `connectMs` (a server that takes the connection and says nothing
 * must not hang the CLI); after that only the request time limits apply. Each exchange is
 * reported to --verbose.
 */
export function endpointFetch(
  connectMs: number,
  verbose: SessionIo["verbose"],
  base: typeof fetch = fetch,
): typeof fetch {
  let answered = false;
  return async (input, init = {}) => {
    const method = init.method ?? "GET";
    const rpc = methodOf(init.body);
    const what = `${method} ${input instanceof Request ? input.url : String(input)}${rpc ? ` (${rpc})` : ""}`;
    const started = Date.now();
    verbose(what);
    const waiting = new AbortController();
    const timer = answered
      ? undefined
      : setTimeout(
          () =>
            waiting.abort(
              new ConnectTimeoutError(`no answer within ${connectMs / 1000} s (--connect-timeout)`),
            ),
          connectMs,
        );
    const signal = init.signal ? AbortSignal.any([init.signal, waiting.signal]) : waiting.signal;
    try {
      const response = await base(input, { ...init, signal });
      answered = true;
      const challenge = response.status === 401 || response.status === 403;
      const why = challenge ? response.headers.get("www-authenticate") : null;
      verbose(
        `${what}: ${response.status} after ${Date.now() - started} ms${why ? ` (${why})` : ""}`,
      );
      return response;
    } catch (error) {
      if (waiting.signal.aborted) throw waiting.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
}
