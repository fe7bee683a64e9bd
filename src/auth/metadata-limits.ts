import { OAuthError } from "./errors.ts";

/**
 * Bounds on client metadata, for /register and Client ID Metadata Documents alike: a client
 * record is read on every authorization and token request, so nothing in it may be large.
 */
export const METADATA_LIMITS = {
  /** Redirect URIs per client. */
  redirectUris: 20,
  /** Characters in a URI: each redirect URI, client_uri, logo_uri, jwks_uri, tos_uri, policy_uri. */
  uriLength: 2048,
  /** Characters in client_name, software_id and software_version. */
  textLength: 200,
  /** Characters in scope. */
  scopeLength: 1024,
  /** Entries in contacts, and characters in each. */
  contacts: 10,
  contactLength: 320,
  /** Keys in jwks, and bytes of its JSON. */
  jwksKeys: 10,
  jwksBytes: 16_384,
} as const;

function invalid(message: string): OAuthError {
  return new OAuthError("invalid_client_metadata", message);
}

/**
 * Control characters, and the bidirectional overrides that make text read differently from
 * what it is (a name on the consent page must say what it says).
 */
const UNSAFE_TEXT = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** Plain text of at most `max` characters, or undefined when absent. */
export function boundedText(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalid(`${field} must be a string`);
  if (value.length > max) throw invalid(`${field} is longer than ${max} characters`);
  if (UNSAFE_TEXT.test(value)) throw invalid(`${field} must not contain control characters`);
  return value;
}

/** An https URL of bounded length, or undefined when absent. */
export function httpsUrl(value: unknown, field: string): string | undefined {
  const text = boundedText(value, field, METADATA_LIMITS.uriLength);
  if (text === undefined) return undefined;
  if (!URL.canParse(text) || !text.startsWith("https://")) {
    throw invalid(`${field} must be an https URL`);
  }
  return text;
}

/** RFC 6749 §3.3: scope tokens of printable ASCII except `"` and `\`, one space apart. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

export function scopeValue(value: unknown): string | undefined {
  const text = boundedText(value, "scope", METADATA_LIMITS.scopeLength);
  if (text === undefined || text === "") return undefined;
  if (!SCOPE.test(text)) throw invalid("scope must be scope tokens separated by single spaces");
  return text;
}

export function contactList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid("contacts must be an array of strings");
  if (value.length > METADATA_LIMITS.contacts) {
    throw invalid(`contacts may list at most ${METADATA_LIMITS.contacts} entries`);
  }
  return value.map((entry) => boundedText(entry, "contacts", METADATA_LIMITS.contactLength) ?? "");
}

/** Members that only a private or symmetric key has. */
const SECRET_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * A client's JWK Set: at most `jwksKeys` public RSA, EC or OKP keys, at most `jwksBytes` of
 * JSON. Private and symmetric keys are refused: a secret registered in the clear is no
 * longer a secret, and a symmetric key would turn private_key_jwt into a shared secret.
 */
export function publicKeySet(value: unknown): { keys: Record<string, unknown>[] } {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (typeof value !== "object" || value === null || !Array.isArray(keys)) {
    throw invalid("jwks must be a JWK Set");
  }
  if (keys.length === 0 || keys.length > METADATA_LIMITS.jwksKeys) {
    throw invalid(`jwks must hold between 1 and ${METADATA_LIMITS.jwksKeys} keys`);
  }
  for (const key of keys) {
    if (typeof key !== "object" || key === null || Array.isArray(key)) {
      throw invalid("jwks must hold JSON Web Keys");
    }
    const jwk = key as Record<string, unknown>;
    if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP") {
      throw invalid("jwks keys must be RSA, EC or OKP public keys");
    }
    if (SECRET_MEMBERS.some((member) => Object.hasOwn(jwk, member))) {
      throw invalid("jwks must hold public keys only");
    }
  }
  const set = { keys: keys as Record<string, unknown>[] };
  if (new TextEncoder().encode(JSON.stringify(set)).length > METADATA_LIMITS.jwksBytes) {
    throw invalid(`jwks is larger than ${METADATA_LIMITS.jwksBytes} bytes`);
  }
  return set;
}
