import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AuthorizationError } from "../client/oauth/errors.ts";
import type { RedirectHandler, RedirectSession } from "../client/oauth/redirect.ts";

export interface LoopbackRedirectOptions {
  /** The port to listen on. Default 0: one the system picks for each authorization. */
  port?: number;
  /** The callback path. Default `/callback`. */
  path?: string;
  /**
   * Open the authorization URL in the system browser (`open`, `xdg-open`, or the Windows
   * URL handler), or call this function with it instead. Default true.
   */
  open?: boolean | ((url: string) => void | Promise<void>);
  /**
   * Show the authorization URL to the person (so it can be opened by hand). Default: one line
   * on stderr; false for silence.
   */
  print?: false | ((url: string) => void);
  /** How long to wait for the browser to come back. Default 5 minutes. */
  timeoutMs?: number;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:system-ui,sans-serif;margin:3rem"><h1>${title}</h1><p>${text}</p></body>`;

/** Opens a URL in the system browser without a shell: the URL is one argument, never parsed. */
function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["rundll32", ["url.dll,FileProtocolHandler", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(command, args, { stdio: "ignore", detached: true });
    // No browser is not an error: the URL was printed for the person to open.
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // As above.
  }
}

/**
 * A redirect handler for apps on a person's own machine (RFC 8252 §7.3): for each
 * authorization it listens on 127.0.0.1, opens the system browser at the authorization
 * server, and waits for the browser to come back to `http://127.0.0.1:<port>/callback`.
 * Callbacks that do not carry the authorization's `state` are turned away; the listener
 * closes when the authorization ends, or after `timeoutMs` with ERR_REDIRECT_TIMEOUT.
 */
export function loopbackRedirect(options: LoopbackRedirectOptions = {}): RedirectHandler {
  const path = options.path ?? "/callback";
  const timeoutMs = options.timeoutMs ?? 300_000;
  const print =
    options.print === false
      ? undefined
      : (options.print ??
        ((url: string) => process.stderr.write(`Open this URL to authorize:\n  ${url}\n`)));
  return {
    async start(): Promise<RedirectSession> {
      let expectedState: string | undefined;
      // Where the browser was told to come back; set once the port is known.
      let base = "http://127.0.0.1/";
      let settle: ((url: URL) => void) | undefined;
      const arrived = new Promise<URL>((resolve) => {
        settle = resolve;
      });
      const server: Server = createServer((request, response) => {
        const url = new URL(request.url ?? "/", "http://127.0.0.1");
        const params = url.searchParams;
        const answer = (status: number, title: string, text: string) => {
          response.writeHead(status, {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            "referrer-policy": "no-referrer",
          });
          response.end(PAGE(title, text));
        };
        if (request.method !== "GET" || url.pathname !== path) {
          answer(404, "Not found", "Nothing here.");
          return;
        }
        // Only the browser coming back from this authorization may end it: anything else
        // on this port (another page, a stale tab) is turned away.
        if (expectedState === undefined || params.get("state") !== expectedState) {
          answer(
            400,
            "Unexpected request",
            "This is not the authorization this app is waiting for.",
          );
          return;
        }
        const failed = params.has("error");
        answer(
          200,
          failed ? "Authorization failed" : "Authorized",
          failed
            ? "The authorization server said no. You can close this window."
            : "You can close this window and go back to the app.",
        );
        settle?.(new URL(`${url.pathname}${url.search}`, base));
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
      const port = (server.address() as AddressInfo).port;
      const redirectUri = `http://127.0.0.1:${port}${path}`;
      base = redirectUri;
      let timer: ReturnType<typeof setTimeout> | undefined;
      return {
        redirectUri,
        async complete(authorizationUrl) {
          expectedState = authorizationUrl.searchParams.get("state") ?? undefined;
          const href = authorizationUrl.href;
          print?.(href);
          if (typeof options.open === "function") await options.open(href);
          else if (options.open !== false) openInBrowser(href);
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new AuthorizationError(
                    "ERR_REDIRECT_TIMEOUT",
                    `Nobody came back to ${redirectUri} within ${Math.round(timeoutMs / 1000)} s`,
                  ),
                ),
              timeoutMs,
            );
          });
          try {
            return await Promise.race([arrived, timeout]);
          } finally {
            clearTimeout(timer);
          }
        },
        async close() {
          clearTimeout(timer);
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
        },
      };
    },
  };
}
