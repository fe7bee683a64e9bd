/** What a Bearer challenge (RFC 6750 §3, RFC 9728 §5.1) in WWW-Authenticate says. */
export interface BearerChallenge {
  error?: string;
  errorDescription?: string;
  /** Scopes the server asks for, split on spaces. */
  scope?: string[];
  /** RFC 9728: where the protected resource metadata is. */
  resourceMetadata?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/**
 * Reads the auth-params of the Bearer challenge in a WWW-Authenticate value, or of the DPoP
 * challenge (RFC 9449 §7.1) when there is no Bearer one: a server that takes only DPoP tokens
 * names its metadata and scopes there. Other schemes are skipped; a header that cannot be
 * parsed yields what was read before the damage, never an exception (the value comes from a
 * server we may not trust).
 */
export function parseBearerChallenge(header: string | null): BearerChallenge | undefined {
  return parseChallenge(header, "bearer") ?? parseChallenge(header, "dpop");
}

/** The `error` of a DPoP challenge, e.g. "use_dpop_nonce"; undefined without one. */
export function dpopChallengeError(header: string | null): string | undefined {
  return parseChallenge(header, "dpop")?.error;
}

/** The auth-params of the first challenge of one scheme (lower case). */
function parseChallenge(header: string | null, scheme: string): BearerChallenge | undefined {
  if (!header) return undefined;
  let rest = header;
  let params: Map<string, string> | undefined;
  let current: Map<string, string> | undefined;
  let inBearer = false;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, "");
    const name = TOKEN.exec(rest)?.[0];
    if (!name) break;
    const after = rest.slice(name.length);
    const param = /^\s*=\s*/.exec(after);
    if (param && current !== undefined) {
      // name=value inside the current challenge.
      rest = after.slice(param[0].length);
      let value: string;
      if (rest.startsWith('"')) {
        let i = 1;
        value = "";
        for (; i < rest.length && rest[i] !== '"'; i++) {
          if (rest[i] === "\\" && i + 1 < rest.length) i++;
          value += rest[i];
        }
        rest = rest.slice(i + 1);
      } else {
        value = /^[^\s,]*/.exec(rest)?.[0] ?? "";
        rest = rest.slice(value.length);
      }
      if (inBearer) current.set(name.toLowerCase(), value);
      continue;
    }
    if (param && current === undefined) break;
    // A new challenge. (A token68 after a scheme reads as one more scheme name, which is
    // harmless: only the first challenge of the scheme has its parameters kept.)
    inBearer = name.toLowerCase() === scheme && params === undefined;
    current = new Map();
    if (inBearer) params = current;
    rest = after;
  }
  if (!params) return undefined;
  const challenge: BearerChallenge = {};
  const error = params.get("error");
  if (error) challenge.error = error;
  const description = params.get("error_description");
  if (description) challenge.errorDescription = description;
  const scope = params.get("scope");
  if (scope !== undefined) {
    const scopes = scope.split(/\s+/).filter(Boolean);
    if (scopes.length) challenge.scope = scopes;
  }
  const metadata = params.get("resource_metadata");
  if (metadata) challenge.resourceMetadata = metadata;
  return challenge;
}
