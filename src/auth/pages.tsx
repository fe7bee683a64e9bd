/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { isLoopbackHost } from "../util/loopback.ts";
import type { PendingAuthorization } from "./login.ts";

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}ul{padding-left:1.2rem}.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem .8rem;border-radius:6px}
button{font:inherit;padding:.45rem 1.1rem;margin-right:.5rem;border-radius:6px;border:1px solid #8c959f;background:#f6f8fa;cursor:pointer}
button.primary{background:#1f883d;color:#fff;border-color:#1a7f37}input{font:inherit;padding:.35rem;width:100%;box-sizing:border-box}
code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}`;

/** Where a custom scheme or http(s) redirect points, as a CSP source for form-action. */
export function cspSource(uri: string): string {
  const url = new URL(uri);
  return url.protocol === "http:" || url.protocol === "https:" ? url.origin : url.protocol;
}

/** Headers for every page the authorization server shows: no framing, no leaks, no caching. */
export function pageHeaders(formTargets: string[] = []): Record<string, string> {
  return {
    "Content-Security-Policy": `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${formTargets.join(" ")}; frame-ancestors 'none'; base-uri 'none'`,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
  };
}

export function Page(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        <style>{STYLE}</style>
      </head>
      <body>{props.children}</body>
    </html>
  );
}

export function ErrorPage(props: { title: string; message: string }) {
  return (
    <Page title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p>
        This request was not sent back to the application, because its address could not be trusted.
      </p>
    </Page>
  );
}

/** A short page for a request refused before it was understood (a body too large to read). */
export function NoticePage(props: { title: string; message: string }) {
  return (
    <Page title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
    </Page>
  );
}

export function ConsentPage(props: {
  pending: PendingAuthorization;
  userName: string;
  action: string;
}) {
  const { pending } = props;
  const redirect = new URL(pending.redirectUri);
  const scopes = pending.scope ? pending.scope.split(" ") : [];
  const localOnly =
    pending.clientSource === "metadata-document" &&
    redirect.protocol === "http:" &&
    isLoopbackHost(redirect.hostname);
  return (
    <Page title={`Authorize ${pending.clientName}`}>
      <h1>
        Allow <strong>{pending.clientName}</strong> to act for you?
      </h1>
      <p>
        Signed in as <strong>{props.userName}</strong>. The application will be sent back to{" "}
        <code>{redirect.host || redirect.protocol}</code>.
      </p>
      {localOnly ? (
        <p class="warn">
          This application identifies itself by a web address but returns to a program on your own
          computer. Any program on this computer could claim to be it: only continue if you started
          this sign-in yourself.
        </p>
      ) : null}
      <p>It asks for:</p>
      <ul>{scopes.length ? scopes.map((scope) => <li>{scope}</li>) : <li>basic access</li>}</ul>
      <p>
        For: <code>{pending.resource}</code>
      </p>
      <form method="post" action={props.action}>
        <input type="hidden" name="request_id" value={pending.id} />
        <input type="hidden" name="csrf" value={pending.csrf} />
        <button type="submit" name="decision" value="allow" class="primary">
          Allow
        </button>
        <button type="submit" name="decision" value="deny">
          Deny
        </button>
      </form>
    </Page>
  );
}

export function DevLoginPage(props: {
  pending: PendingAuthorization;
  action: string;
  defaultUser: string;
}) {
  return (
    <Page title="Sign in (development)">
      <h1>Sign in</h1>
      <p class="warn">
        Development login: anyone can sign in as anyone. Never use it on a public server.
      </p>
      <form method="post" action={props.action}>
        <input type="hidden" name="request_id" value={props.pending.id} />
        <input type="hidden" name="csrf" value={props.pending.csrf} />
        <p>
          <label>
            User name{" "}
            <input name="username" value={props.defaultUser} autocomplete="username" required />
          </label>
        </p>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </Page>
  );
}
