import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { sha256, timingSafeEqual } from "../util/crypto.ts";
import {
  DEFAULT_OPERATOR_PATH,
  type OperatorApiOptions,
  type OperatorVerdict,
} from "./admin-options.ts";
import type { Client } from "./clients.ts";
import type { AuthorizationCore } from "./core.ts";
import type { GrantRecord } from "./grants.ts";

const NO_STORE = { "Cache-Control": "no-store" };

/** What the API says about a client: never its secret's hash or its keys. */
function clientView(client: Client, disabled: boolean) {
  return {
    client_id: client.client_id,
    client_name: client.client_name,
    source: client.source,
    redirect_uris: client.redirect_uris,
    grant_types: client.grant_types,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    client_id_issued_at: client.client_id_issued_at,
    disabled,
  };
}

/** A grant by its id and what it allows: never a token. Times in Unix seconds. */
function grantView(grant: GrantRecord) {
  return {
    grant_id: grant.gid,
    subject: grant.subject,
    client_id: grant.clientId,
    scope: grant.scope,
    resource: grant.resource,
    created_at: Math.floor(grant.createdAt / 1000),
    last_used_at: Math.floor(grant.lastUsedAt / 1000),
  };
}

/** A bearer challenge (RFC 6750 §3) for a missing, unknown or refused operator credential. */
function refuse(c: Context, status: 401 | 403, error?: string): Response {
  const challenge = error ? `Bearer realm="operator", error="${error}"` : 'Bearer realm="operator"';
  const body = error
    ? { error, error_description: "The operator credential is not valid for this API" }
    : {
        error: "invalid_request",
        error_description: "Send the operator credential as a Bearer token",
      };
  return c.json(body, status, { ...NO_STORE, "WWW-Authenticate": challenge });
}

/**
 * The operator API (JSON): list clients, a subject's grants, revoke a grant or all of a
 * subject's, disable and enable a client. Every request carries the operator credential.
 */
export function operatorRoutes(as: AuthorizationCore, options: OperatorApiOptions): Hono {
  const path = options.path ?? DEFAULT_OPERATOR_PATH;
  const token = options.token;
  let expected: Promise<string> | undefined;
  const routes = new Hono();

  routes.use(`${path}/*`, async (c, next) => {
    const match = /^Bearer ([^\s]+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match) return refuse(c, 401);
    const credential = match[1]!;
    let verdict: OperatorVerdict;
    if (token !== undefined) {
      expected ??= sha256(token);
      // Hashes of equal length, compared in constant time: the comparison leaks nothing.
      verdict = timingSafeEqual(await sha256(credential), await expected);
    } else verdict = await options.verify!(credential, c.req.raw);
    if (verdict === "forbidden") return refuse(c, 403, "insufficient_scope");
    if (verdict !== true) return refuse(c, 401, "invalid_token");
    await next();
  });

  const notFound = (c: Context, what: string) =>
    c.json({ error: "not_found", error_description: `No such ${what}` }, 404, NO_STORE);

  routes.get(`${path}/clients`, async (c) => {
    const clients = await as.clients.list();
    const views = await Promise.all(
      clients.map(async (client) =>
        clientView(client, await as.grants.isDisabled(client.client_id)),
      ),
    );
    return c.json({ clients: views }, 200, NO_STORE);
  });

  routes.get(`${path}/clients/:id`, async (c) => {
    const client = await as.clients.get(c.req.param("id"));
    if (!client) return notFound(c, "client");
    return c.json(clientView(client, await as.grants.isDisabled(client.client_id)), 200, NO_STORE);
  });

  for (const [action, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const) {
    // Any client id, metadata-document URLs included: a client can be barred before it comes.
    routes.post(`${path}/clients/:id/${action}`, async (c) => {
      const clientId = c.req.param("id");
      await as.grants.setDisabled(clientId, disabled);
      return c.json({ client_id: clientId, disabled }, 200, NO_STORE);
    });
  }

  routes.get(`${path}/subjects/:subject/grants`, async (c) => {
    const subject = c.req.param("subject");
    const grants = await as.grants.list(subject);
    return c.json({ subject, grants: grants.map(grantView) }, 200, NO_STORE);
  });

  routes.delete(`${path}/subjects/:subject/grants`, async (c) => {
    const revoked = await as.grants.revokeAll(c.req.param("subject"));
    return c.json({ revoked: revoked.map((grant) => grant.gid) }, 200, NO_STORE);
  });

  routes.delete(`${path}/grants/:gid`, async (c) => {
    const grant = await as.grants.get(c.req.param("gid"));
    if (!grant) return notFound(c, "grant");
    await as.grants.revoke(grant);
    return c.body(null, 204, NO_STORE);
  });

  return routes;
}
