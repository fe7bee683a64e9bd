import type { Store } from "../storage/store.ts";
import { isLoopbackHost } from "../util/loopback.ts";
import type { Client } from "./clients.ts";
import type { PendingAuthorization } from "./login.ts";

const consentKey = (subject: string, clientId: string, resource: string) =>
  `as:consent:${subject}:${clientId}:${resource}`;

function isLoopbackRedirect(uri: string): boolean {
  const url = new URL(uri);
  return url.protocol === "http:" && isLoopbackHost(url.hostname);
}

/**
 * Whether the client behind an authorization request proves who it is, so that consent the
 * user gave it before may approve this request unasked (RFC 8252 §8.6). It does when it
 * authenticates at the token endpoint and the code goes to a redirect URI registered exactly
 * as sent. It does not when it is a public client (any program can send its client_id with
 * its own PKCE challenge), when a loopback redirect was matched on another port (another
 * program on this computer), or when a metadata-document client returns to loopback (anyone
 * can name the document's URL and listen there).
 */
export function identityAssured(client: Client, redirectUri: string): boolean {
  if (client.token_endpoint_auth_method === "none") return false;
  if (!client.redirect_uris.includes(redirectUri)) return false;
  return !(client.source === "metadata-document" && isLoopbackRedirect(redirectUri));
}

/** Whether the user already consented to everything this request asks, for a client that proves who it is. */
export async function rememberedConsent(
  store: Store,
  pending: PendingAuthorization,
  subject: string,
): Promise<boolean> {
  if (!pending.identityAssured) return false;
  const remembered = await store.get<string[]>(
    consentKey(subject, pending.clientId, pending.resource),
  );
  if (!remembered) return false;
  return pending.scope
    .split(" ")
    .filter(Boolean)
    .every((scope) => remembered.includes(scope));
}

/** Keeps a consent for later requests, only where it could ever be used (see `identityAssured`). */
export async function rememberConsent(
  store: Store,
  pending: PendingAuthorization,
  subject: string,
  days: number,
): Promise<void> {
  if (!pending.identityAssured || days <= 0) return;
  await store.set(
    consentKey(subject, pending.clientId, pending.resource),
    pending.scope.split(" ").filter(Boolean),
    { ttlMs: days * 86_400_000 },
  );
}
