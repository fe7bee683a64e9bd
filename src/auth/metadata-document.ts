import type { Store } from "../storage/store.ts";
import { type SafeFetchOptions, safeFetchJson } from "../util/ssrf.ts";
import { type Client, type RegistrationRules, validateClientMetadata } from "./clients.ts";
import { OAuthError } from "./errors.ts";
import { METADATA_LIMITS } from "./metadata-limits.ts";

export interface MetadataDocumentOptions extends SafeFetchOptions {
  /** Accept Client ID Metadata Documents. Default true. */
  enabled?: boolean;
  /** Cache bounds for fetched documents, in seconds. Defaults 60 and 86,400. */
  minCacheSeconds?: number;
  maxCacheSeconds?: number;
}

/** Whether a client_id is a URL to be resolved as a Client ID Metadata Document. */
export function isMetadataDocumentUrl(clientId: string): boolean {
  return clientId.startsWith("https://") || clientId.startsWith("http://");
}

function cacheSeconds(response: Response, options: MetadataDocumentOptions): number {
  const min = options.minCacheSeconds ?? 60;
  const max = options.maxCacheSeconds ?? 86_400;
  const control = response.headers.get("cache-control") ?? "";
  if (/no-store/i.test(control)) return min;
  const maxAge = /max-age=(\d+)/i.exec(control)?.[1];
  return Math.min(max, Math.max(min, maxAge === undefined ? min : Number(maxAge)));
}

/**
 * Resolves a URL client_id by fetching its metadata document (draft-ietf-oauth-client-id-
 * metadata-document): the document must name itself as client_id, and its redirect URIs
 * follow the same rules as registered ones. Cached in the Store per the response's headers.
 */
export async function resolveMetadataDocument(
  clientId: string,
  store: Store,
  rules: RegistrationRules,
  options: MetadataDocumentOptions,
): Promise<Client> {
  if (clientId.length > METADATA_LIMITS.uriLength) {
    throw new OAuthError(
      "invalid_client",
      `A metadata document client_id is at most ${METADATA_LIMITS.uriLength} characters`,
    );
  }
  const cacheKey = `as:cimd:${clientId}`;
  const cached = await store.get<Client>(cacheKey);
  if (cached) return cached;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw new OAuthError("invalid_client", "client_id is not a valid URL");
  }
  // Dot segments are looked for in the text: URL parsing has already resolved them away.
  const segments = clientId.split(/[?#]/)[0]!.split("/").slice(3);
  const dotSegment = segments.some((segment) => /^(\.|%2e){1,2}$/i.test(segment));
  if (url.pathname === "/" || url.hash || url.search || dotSegment) {
    throw new OAuthError(
      "invalid_client",
      "A metadata document client_id needs a path, without query or fragment",
    );
  }
  let fetched: { json: unknown; response: Response };
  try {
    fetched = await safeFetchJson(clientId, { maxBytes: 5 * 1024, ...options });
  } catch (error) {
    // One answer whatever happened: what the fetch found (an address, a status, a timeout)
    // would let a stranger map the network behind this server. The detail stays on `cause`.
    throw new OAuthError("invalid_client", "The client metadata document could not be fetched", {
      cause: error,
    });
  }
  const document = fetched.json as Record<string, unknown>;
  if (typeof document !== "object" || document === null || document.client_id !== clientId) {
    throw new OAuthError(
      "invalid_client",
      "The metadata document's client_id does not match its URL",
    );
  }
  const method = document.token_endpoint_auth_method ?? "none";
  if (method !== "none" && method !== "private_key_jwt") {
    throw new OAuthError("invalid_client", "A metadata document client cannot use a shared secret");
  }
  let metadata: Omit<Client, "client_id" | "source">;
  try {
    metadata = validateClientMetadata({ ...document, token_endpoint_auth_method: method }, rules);
  } catch (error) {
    const reason = error instanceof OAuthError ? error.message : "invalid document";
    throw new OAuthError("invalid_client", `Invalid client metadata document: ${reason}`);
  }
  const client: Client = { ...metadata, client_id: clientId, source: "metadata-document" };
  await store.set(cacheKey, client, { ttlMs: cacheSeconds(fetched.response, options) * 1000 });
  return client;
}
