/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import { readBody } from "../util/body.ts";
import { OAuthError } from "./errors.ts";
import { NoticePage, pageHeaders } from "./pages.tsx";

/**
 * The largest request body each authorization-server endpoint reads, in bytes. A body over
 * its limit is refused with 413 as soon as that is known: at once when Content-Length says
 * so, or when a chunked body runs past it; nothing more is read.
 */
export const BODY_LIMITS = {
  /** POST /register: client metadata as JSON, an inline `jwks` included. */
  register: 64 * 1024,
  /** POST /token, /revoke, /introspect: a form of codes, tokens or a client assertion JWT. */
  token: 16 * 1024,
  /** POST /authorize: the parameters a GET carries in its query. */
  authorize: 16 * 1024,
  /** The consent and dev-login forms: a request id, a CSRF token, a decision, a user name. */
  form: 4 * 1024,
} as const;

// The rest of an oversized body is not wanted: closing the connection stops the peer from
// sending it, where keeping it alive would mean reading it all to reach the next request.
const CLOSE = { Connection: "close" };

/** Reads an OAuth endpoint's body; over `limit`, throws a 413 invalid_request (RFC 6749 §5.2). */
export async function readOAuthBody(c: Context, limit: number): Promise<string> {
  let text: string | undefined;
  try {
    text = await readBody(c.req.raw, limit);
  } catch {
    throw new OAuthError("invalid_request", "The request body could not be read");
  }
  if (text === undefined) {
    throw new OAuthError("invalid_request", `The request body is larger than ${limit} bytes`, {
      status: 413,
      headers: CLOSE,
    });
  }
  return text;
}

/**
 * Reads a browser form's body (application/x-www-form-urlencoded), or answers for it: a short
 * 413 page when it is over `limit`, a 400 page when it could not be read.
 */
export async function readPageForm(c: Context, limit: number): Promise<URLSearchParams | Response> {
  let text: string | undefined;
  try {
    text = await readBody(c.req.raw, limit);
  } catch {
    return c.html(
      <NoticePage title="Request not read" message="The form could not be read. Try again." />,
      400,
      pageHeaders(),
    );
  }
  if (text === undefined) {
    return c.html(
      <NoticePage
        title="Request too large"
        message="The form sent is larger than this page accepts. Start again from the application."
      />,
      413,
      { ...pageHeaders(), ...CLOSE },
    );
  }
  return new URLSearchParams(text);
}
