/**
 * Token exchange (RFC 8693) from the client side: a resource server holding a user's access
 * token trades it at the authorization server for one to another resource, to call it as the user.
 */
import * as oauth from "oauth4webapi";
import type { Context } from "../../mcp/context.ts";
import { canonicalResource } from "../../util/resource-uri.ts";
import type { Authorizer } from "../auth-seam.ts";
import { AuthorizationError } from "./errors.ts";
import { tokenError } from "./token-endpoint.ts";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** Where and as whom to exchange a token. */
export interface ExchangeTokenOptions {
  /** The authorization server's issuer; its metadata (RFC 8414) names the token endpoint. */
  issuer: string;
  /** The token endpoint, to skip the metadata request. */
  tokenEndpoint?: string;
  /** This service's client at the authorization server, authenticated with client_secret_basic. */
  clientId: string;
  clientSecret: string;
  /** The token to exchange: an access token the same authorization server issued. */
  subjectToken: string;
  /** The resource the new token is for. */
  resource: string;
  /** The scopes wanted: the subject token's or fewer. Default: all of the subject token's. */
  scope?: string | readonly string[];
  /** Allow http:// (for loopback development and tests). Default false. */
  allowInsecureRequests?: boolean;
  /** Default the global fetch. */
  fetch?: typeof fetch;
}

/** The token an exchange issued. */
export interface ExchangedToken {
  accessToken: string;
  /** "bearer" or "dpop", lowercased. */
  tokenType: string;
  /** Seconds, when the server said. */
  expiresIn?: number;
  /** The scopes granted, when the server said. */
  scope?: string;
  /** RFC 8693 `issued_token_type`. */
  issuedTokenType: string;
}

/**
 * Exchanges a token at an authorization server (RFC 8693) for one to another resource.
 * Rejects with AuthorizationError ERR_TOKEN_REQUEST_FAILED, `oauthError` set to the server's
 * error (invalid_grant, invalid_target, invalid_scope, unauthorized_client, …).
 */
export async function exchangeToken(options: ExchangeTokenOptions): Promise<ExchangedToken> {
  const send = options.fetch ?? fetch;
  // One function for every request shape oauth4webapi makes.
  const fetcher = (url: string, init: oauth.CustomFetchOptions<string, unknown>) =>
    send(url, init as RequestInit);
  const common = {
    [oauth.customFetch]: fetcher,
    [oauth.allowInsecureRequests]: options.allowInsecureRequests === true,
  };
  const issuer = new URL(options.issuer);
  let as: oauth.AuthorizationServer;
  try {
    as = options.tokenEndpoint
      ? { issuer: issuer.href.replace(/\/$/, ""), token_endpoint: options.tokenEndpoint }
      : await oauth.processDiscoveryResponse(
          issuer,
          await oauth.discoveryRequest(issuer, { ...common, algorithm: "oauth2" }),
        );
  } catch (error) {
    throw new AuthorizationError(
      "ERR_METADATA_NOT_FOUND",
      `No authorization server metadata for ${options.issuer}`,
      { cause: error },
    );
  }
  const parameters = new URLSearchParams({
    subject_token: options.subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
    resource: options.resource,
  });
  const scope = typeof options.scope === "string" ? options.scope : options.scope?.join(" ");
  if (scope) parameters.set("scope", scope);
  const client: oauth.Client = { client_id: options.clientId };
  try {
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.ClientSecretBasic(options.clientSecret),
      TOKEN_EXCHANGE,
      parameters,
      common,
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    const issued: ExchangedToken = {
      accessToken: result.access_token,
      tokenType: result.token_type,
      issuedTokenType:
        typeof result.issued_token_type === "string" ? result.issued_token_type : ACCESS_TOKEN_TYPE,
    };
    if (result.expires_in !== undefined) issued.expiresIn = result.expires_in;
    if (result.scope !== undefined) issued.scope = result.scope;
    return issued;
  } catch (error) {
    throw await tokenError(error, "The token exchange");
  }
}

/** The access token a request to this MCP server carried (Bearer or DPoP scheme), if any. */
export function callerToken(ctx: Context): string | undefined {
  const header = ctx.c?.req.header("authorization");
  const match = header ? /^(?:bearer|dpop) +([^\s]+)$/i.exec(header.trim()) : null;
  return match?.[1];
}

/** What `onBehalfOf` needs besides the request: the exchange, without the subject token. */
export type OnBehalfOfOptions = Omit<ExchangeTokenOptions, "subjectToken">;

/**
 * An Authorizer for calling another MCP server as the user behind a tool call: the caller's
 * access token is exchanged (once, on first use) for one to `resource`, and sent only there.
 * Pass it to `McpClient.connect(resource, { authorizer })`. A refused exchange rejects the
 * connect or call with the AuthorizationError of `exchangeToken`.
 */
export function onBehalfOf(ctx: Context, options: OnBehalfOfOptions): Authorizer {
  const subjectToken = callerToken(ctx);
  const target = canonicalResource(options.resource);
  let exchanged: Promise<ExchangedToken> | undefined;
  return {
    async headers(url) {
      if (url && canonicalResource(url.href) !== target) {
        throw new AuthorizationError(
          "ERR_SERVER_MISMATCH",
          `This authorizer's token is for ${options.resource}, not ${url.href}`,
        );
      }
      if (subjectToken === undefined) {
        throw new AuthorizationError(
          "ERR_NO_SUBJECT_TOKEN",
          "The request carries no access token to exchange",
        );
      }
      exchanged ??= exchangeToken({ ...options, subjectToken });
      const { accessToken } = await exchanged;
      return { authorization: `Bearer ${accessToken}` };
    },
    // The exchanged token is all this authorizer has; a refusal is final.
    onUnauthorized: async () => false,
    onForbidden: async () => false,
  };
}
