/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import { ErrorPage, pageHeaders } from "./pages.tsx";

// The authorization endpoint's replies that end a request: an error page, or back to the client.

export function errorPage(
  c: Context,
  status: 400 | 403,
  title: string,
  message: string,
): Response | Promise<Response> {
  return c.html(<ErrorPage title={title} message={message} />, status, pageHeaders());
}

/** Sends the user back to the client, with RFC 9207 `iss` on success and error alike. */
export function backToClient(
  redirectUri: string,
  params: Record<string, string | undefined>,
): Response {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(key, value);
  return new Response(null, {
    status: 303,
    headers: { Location: url.href, "Cache-Control": "no-store" },
  });
}

export const expired = (c: Context) =>
  errorPage(
    c,
    400,
    "Request expired",
    "This sign-in request has expired. Start again from the application.",
  );

// Once a user is bound to a request, nobody else may pick it up by its id.
export const someoneElses = (c: Context) =>
  errorPage(
    c,
    403,
    "Request refused",
    "This sign-in request belongs to someone else. Start again from the application.",
  );
