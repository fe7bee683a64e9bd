import type { Store } from "../storage/store.ts";
import { isLoopbackHost } from "../util/loopback.ts";
import type { Client } from "./clients.ts";
import type { PendingAuthorization } from "./login.ts";

const consentKey = (subject: string, clientId: string, resource: string) =>
  `as:consent:${subject}:${clientId}:${resource}`;
/** A user's remembered consents, members `[clientId, resource]` as JSON: what to forget. */
const consentIndexKey = (subject: string) => `as:consents:${subject}`;

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
  const ttl = { ttlMs: days * 86_400_000 };
  await store.set(
    consentKey(subject, pending.clientId, pending.resource),
    pending.scope.split(" ").filter(Boolean),
    ttl,
  );
  await store.addMember(
    consentIndexKey(subject),
    JSON.stringify([pending.clientId, pending.resource]),
    ttl,
  );
}

/** The clients a user's remembered consents are for (each once). */
export async function consentedClients(store: Store, subject: string): Promise<string[]> {
  const members = await store.members(consentIndexKey(subject));
  return [...new Set(members.map((member) => (JSON.parse(member) as [string, string])[0]))];
}

/**
 * Forgets a user's remembered consents, for one client or (without `clientId`) all of them:
 * the next request from that client asks the user again.
 */
export async function forgetConsents(
  store: Store,
  subject: string,
  clientId?: string,
): Promise<void> {
  const index = consentIndexKey(subject);
  for (const member of await store.members(index)) {
    const [client, resource] = JSON.parse(member) as [string, string];
    if (clientId !== undefined && client !== clientId) continue;
    await store.delete(consentKey(subject, client, resource));
    await store.removeMember(index, member);
  }
}
