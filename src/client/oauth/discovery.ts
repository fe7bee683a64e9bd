/**
 * Where a server's tokens come from: its RFC 9728 protected resource metadata, then the
 * RFC 8414 metadata of the authorization server it names (2025-03-26: the one at its origin).
 */
import type { AuthorizationServer } from "oauth4webapi";
import { z } from "zod";
import { canonicalResource } from "../../util/resource-uri.ts";
import type { DiscoveryCache, ResourceMetadata } from "./discovery-cache.ts";
import { AuthorizationError } from "./errors.ts";
import { type FetchPolicy, fetchJson } from "./fetch.ts";

const strings = z.array(z.string());

const resourceSchema = z.looseObject({
  resource: z.string().min(1),
  authorization_servers: z.array(z.string().min(1)).min(1),
  scopes_supported: strings.optional(),
});

const endpoint = z.string().refine((value) => URL.canParse(value), "must be an absolute URL");

const serverSchema = z.looseObject({
  issuer: z.string().min(1),
  authorization_endpoint: endpoint.optional(),
  token_endpoint: endpoint,
  registration_endpoint: endpoint.optional(),
  scopes_supported: strings.optional(),
  response_types_supported: strings.optional(),
  grant_types_supported: strings.optional(),
  code_challenge_methods_supported: strings.optional(),
  token_endpoint_auth_methods_supported: strings.optional(),
  client_id_metadata_document_supported: z.boolean().optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});

function invalid(what: string, url: URL, error: z.ZodError): AuthorizationError {
  const problems = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(document)"}: ${issue.message}`)
    .join("; ");
  return new AuthorizationError(
    "ERR_BAD_METADATA",
    `The ${what} at ${url.href} is invalid: ${problems}`,
  );
}

/** RFC 9728 §3.1: the well-known prefix goes between the host and the path. */
function wellKnown(base: URL, suffix: string, path = base.pathname): URL {
  const trimmed = path === "/" ? "" : path.replace(/\/+$/, "");
  return new URL(`${base.origin}/.well-known/${suffix}${trimmed}`);
}

/**
 * Finds the protected resource metadata of an MCP server: at the URL its challenge named,
 * else at the path-specific well-known location, else at the root one. The document must
 * name this server as its resource, compared in canonical form (RFC 9728 §3.3): the server's
 * URL for a document found through the challenge or the path form; at the root, the origin
 * (the identifier the root location belongs to) or the server's URL. Undefined when there
 * is no document anywhere (a 2025-03-26 server).
 */
async function discoverResource(
  policy: FetchPolicy,
  serverUrl: URL,
  headerUrl: string | undefined,
): Promise<{ metadata: ResourceMetadata; headers: Headers } | undefined> {
  const server = canonicalResource(serverUrl.href)!;
  const origin = canonicalResource(serverUrl.origin)!;
  const candidates: { url: URL; accept: string[] }[] = [];
  if (headerUrl !== undefined) {
    if (!URL.canParse(headerUrl, serverUrl)) {
      throw new AuthorizationError(
        "ERR_BAD_METADATA",
        `The resource_metadata in the server's challenge is not a URL: ${headerUrl}`,
      );
    }
    candidates.push({ url: new URL(headerUrl, serverUrl), accept: [server] });
  }
  const pathForm = wellKnown(serverUrl, "oauth-protected-resource");
  const root = wellKnown(serverUrl, "oauth-protected-resource", "/");
  candidates.push({ url: pathForm, accept: [server] }, { url: root, accept: [origin, server] });

  const tried = new Set<string>();
  for (const { url, accept } of candidates) {
    // The challenge may name a well-known location, and a server at the root has one form.
    if (tried.has(url.href)) continue;
    tried.add(url.href);
    const fetched = await fetchJson(policy, url, "protected resource metadata");
    if (!fetched.found) continue;
    const parsed = resourceSchema.safeParse(fetched.json);
    if (!parsed.success) throw invalid("protected resource metadata", url, parsed.error);
    const document = parsed.data;
    const canonical = canonicalResource(document.resource);
    if (canonical === undefined || !accept.includes(canonical)) {
      throw new AuthorizationError(
        "ERR_RESOURCE_MISMATCH",
        `The protected resource metadata at ${url.href} is for ${document.resource}, not for ${serverUrl.href}`,
      );
    }
    const metadata: ResourceMetadata = {
      resource: document.resource,
      authorizationServers: document.authorization_servers,
      url: url.href,
    };
    if (document.scopes_supported) metadata.scopesSupported = document.scopes_supported;
    return { metadata, headers: fetched.headers };
  }
  return undefined;
}

function parseServer(json: unknown, url: URL): AuthorizationServer {
  const parsed = serverSchema.safeParse(json);
  if (!parsed.success) throw invalid("authorization server metadata", url, parsed.error);
  return parsed.data as AuthorizationServer;
}

/**
 * Fetches an authorization server's metadata in the order the MCP spec gives: for an issuer
 * with a path, RFC 8414 path insertion, then OpenID Connect path insertion, then OpenID
 * Connect path appending; for one without, the two root documents. The document's `issuer`
 * must equal the issuer identifier exactly (RFC 8414 §3.3), or it is not used at all.
 */
async function discoverAuthorizationServer(
  policy: FetchPolicy,
  issuer: string,
): Promise<{ as: AuthorizationServer; headers: Headers }> {
  if (!URL.canParse(issuer)) {
    throw new AuthorizationError("ERR_BAD_METADATA", `The issuer ${issuer} is not a URL`);
  }
  const base = new URL(issuer);
  if (base.search || base.hash) {
    throw new AuthorizationError(
      "ERR_BAD_METADATA",
      `The issuer ${issuer} has a query or fragment, which RFC 8414 forbids`,
    );
  }
  const path = base.pathname === "/" ? "" : base.pathname.replace(/\/+$/, "");
  const candidates = path
    ? [
        wellKnown(base, "oauth-authorization-server", path),
        wellKnown(base, "openid-configuration", path),
        new URL(`${base.origin}${path}/.well-known/openid-configuration`),
      ]
    : [
        wellKnown(base, "oauth-authorization-server", "/"),
        wellKnown(base, "openid-configuration", "/"),
      ];
  for (const url of candidates) {
    const fetched = await fetchJson(policy, url, "authorization server metadata");
    if (!fetched.found) continue;
    const metadata = parseServer(fetched.json, url);
    if (metadata.issuer !== issuer) {
      throw new AuthorizationError(
        "ERR_ISSUER_MISMATCH",
        `The metadata at ${url.href} claims the issuer ${metadata.issuer}, but it was looked up for ${issuer}`,
      );
    }
    return { as: metadata, headers: fetched.headers };
  }
  throw new AuthorizationError(
    "ERR_METADATA_NOT_FOUND",
    `No authorization server metadata for ${issuer} (tried ${candidates.map((url) => url.pathname).join(", ")})`,
  );
}

/**
 * 2025-03-26 servers publish no resource metadata: their authorization server lives at the
 * server's origin, with RFC 8414 metadata at the root or, failing that, the default endpoints
 * /authorize, /token and /register. Such metadata may name an issuer with a path, but only on
 * the server's own origin: a server cannot borrow another site's identity this way.
 */
async function discoverLegacyServer(
  policy: FetchPolicy,
  serverUrl: URL,
): Promise<AuthorizationServer> {
  const origin = serverUrl.origin;
  const url = wellKnown(serverUrl, "oauth-authorization-server", "/");
  const fetched = await fetchJson(policy, url, "authorization server metadata");
  if (fetched.found) {
    const metadata = parseServer(fetched.json, url);
    if (!URL.canParse(metadata.issuer) || new URL(metadata.issuer).origin !== origin) {
      throw new AuthorizationError(
        "ERR_ISSUER_MISMATCH",
        `The metadata at ${url.href} claims the issuer ${metadata.issuer}, which is not on ${origin}`,
      );
    }
    return metadata;
  }
  return {
    issuer: origin,
    authorization_endpoint: `${origin}/authorize`,
    token_endpoint: `${origin}/token`,
    registration_endpoint: `${origin}/register`,
    // 2025-03-26 requires PKCE of every client, so S256 needs no advertising there.
    code_challenge_methods_supported: ["S256"],
  };
}

/** Where a server's tokens come from, as discovered. */
export interface Target {
  serverUrl: URL;
  /** The resource indicator, exactly as published. */
  resource: string;
  issuer: string;
  as: AuthorizationServer;
  scopesSupported?: string[];
}

export interface TargetOptions {
  /** The issuer to pick when the resource names several (the pre-registered client's). */
  preferredIssuer?: string | undefined;
  /** Follow the 2025-03-26 rules for servers without resource metadata. */
  legacyDiscovery: boolean;
  /** Authorization server metadata already fetched, by issuer; filled in here. */
  servers: Map<string, AuthorizationServer>;
  /** Discovery results shared between authorizers, read and filled in here. */
  cache?: DiscoveryCache | undefined;
  /** Look again rather than read the cache (a token was refused: something may have moved). */
  fresh?: boolean;
}

/** The issuer to use of those a resource names: the pre-registered client's, else the first. */
function pickIssuer(prm: ResourceMetadata, options: TargetOptions): string {
  const wanted = options.preferredIssuer;
  return wanted !== undefined && prm.authorizationServers.includes(wanted)
    ? wanted
    : prm.authorizationServers[0]!;
}

function targetOf(
  serverUrl: URL,
  prm: ResourceMetadata,
  issuer: string,
  as: AuthorizationServer,
): Target {
  const target: Target = { serverUrl, resource: prm.resource, issuer, as };
  if (prm.scopesSupported) target.scopesSupported = prm.scopesSupported;
  return target;
}

/**
 * Where `serverUrl`'s tokens come from, from the cache alone (no request): undefined unless
 * both its resource metadata and its authorization server's are there.
 */
export async function cachedTarget(
  serverUrl: URL,
  options: TargetOptions,
): Promise<Target | undefined> {
  const prm = await options.cache?.resource(canonicalResource(serverUrl.href)!);
  if (!prm) return undefined;
  const issuer = pickIssuer(prm, options);
  const as = options.servers.get(issuer) ?? (await options.cache?.server(issuer));
  if (!as) return undefined;
  options.servers.set(issuer, as);
  return targetOf(serverUrl, prm, issuer, as);
}

/**
 * Where `serverUrl`'s tokens come from: its protected resource metadata, then the metadata of
 * the authorization server it names; or, for a 2025-03-26 server without resource metadata,
 * the authorization server at its origin.
 */
export async function discoverTarget(
  policy: FetchPolicy,
  serverUrl: URL,
  resourceMetadataUrl: string | undefined,
  options: TargetOptions,
): Promise<Target> {
  const { cache } = options;
  const key = canonicalResource(serverUrl.href)!;
  let prm = options.fresh ? undefined : await cache?.resource(key);
  // A challenge naming another document than the one cached: the server changed, look again.
  if (prm && resourceMetadataUrl !== undefined) {
    const named = URL.canParse(resourceMetadataUrl, serverUrl)
      ? new URL(resourceMetadataUrl, serverUrl).href
      : undefined;
    if (named !== prm.url) prm = undefined;
  }
  if (!prm) {
    const found = await discoverResource(policy, serverUrl, resourceMetadataUrl);
    if (found) {
      prm = found.metadata;
      await cache?.putResource(key, prm, found.headers);
    }
  }
  if (prm) {
    const issuer = pickIssuer(prm, options);
    let as =
      options.servers.get(issuer) ?? (options.fresh ? undefined : await cache?.server(issuer));
    if (!as) {
      const found = await discoverAuthorizationServer(policy, issuer);
      as = found.as;
      await cache?.putServer(issuer, as, found.headers);
    }
    options.servers.set(issuer, as);
    return targetOf(serverUrl, prm, issuer, as);
  }
  if (options.legacyDiscovery) {
    const as = await discoverLegacyServer(policy, serverUrl);
    return { serverUrl, resource: canonicalResource(serverUrl.href)!, issuer: as.issuer, as };
  }
  throw new AuthorizationError(
    "ERR_METADATA_NOT_FOUND",
    `${serverUrl.href} publishes no protected resource metadata`,
  );
}
