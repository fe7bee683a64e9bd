import { AuthorizationError } from "./errors.ts";

/**
 * Gets a person through the authorization server's pages: a browser on this machine
 * (`loopbackRedirect()` from portcullis/node), a web app's own callback route, or a test.
 */
export interface RedirectHandler {
  /** Begins one authorization: decides where the authorization server sends the browser back. */
  start(): Promise<RedirectSession>;
}

/** One authorization in progress. */
export interface RedirectSession {
  /** The redirect URI to register and to send in the authorization request. */
  readonly redirectUri: string;
  /**
   * Sends the person to `authorizationUrl` and resolves with the URL the authorization server
   * redirected back to (with `code`, `state` and `iss`, or `error`).
   */
  complete(authorizationUrl: URL): Promise<URL>;
  /** Releases what the session holds (a listening socket). Called once, however it ended. */
  close(): Promise<void>;
}

export interface HeadlessRedirectOptions {
  /** Default `http://127.0.0.1/callback` (a loopback URI, never contacted by the authorizer). */
  redirectUri?: string;
  /** How long `follow` may take. Default 5 minutes. */
  timeoutMs?: number;
}

/**
 * A redirect handler without a browser, for tests and server-side apps: `follow` is given the
 * authorization URL and returns the URL the authorization server redirected back to.
 */
export function headlessRedirect(
  follow: (authorizationUrl: URL, redirectUri: string) => Promise<string | URL>,
  options: HeadlessRedirectOptions = {},
): RedirectHandler {
  const redirectUri = options.redirectUri ?? "http://127.0.0.1/callback";
  const timeoutMs = options.timeoutMs ?? 300_000;
  return {
    async start() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      return {
        redirectUri,
        async complete(authorizationUrl) {
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new AuthorizationError(
                    "ERR_REDIRECT_TIMEOUT",
                    `No redirect back within ${timeoutMs} ms`,
                  ),
                ),
              timeoutMs,
            );
          });
          try {
            const back = await Promise.race([follow(authorizationUrl, redirectUri), timeout]);
            if (!URL.canParse(String(back))) {
              throw new AuthorizationError(
                "ERR_BAD_CALLBACK",
                `The redirect handler returned ${JSON.stringify(String(back))}, not a URL`,
              );
            }
            return new URL(back);
          } finally {
            clearTimeout(timer);
          }
        },
        async close() {
          clearTimeout(timer);
        },
      };
    },
  };
}
