/**
 * The authorization server: a SERVER span and a duration per endpoint request, and the OAuth
 * counters (tokens issued by grant type, refresh rotations, refresh reuse, rate-limit refusals).
 */
import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { OAuthError, RefreshTokenReuseError } from "../auth/errors.ts";
import type { AuthorizationServer } from "../auth/server.ts";
import { readBody } from "../util/body.ts";
import { ATTR } from "./attributes.ts";
import { type AuthorizationMeters, authorizationMeters } from "./metrics.ts";
import { extractFromHeaders, type TelemetryOptions, type Tracing, tracingOf } from "./telemetry.ts";

/** The token endpoint's form is small; a larger one is refused by the endpoint anyway. */
const TOKEN_FORM_LIMIT = 16 * 1024;

/** Grant types kept as they are; anything a caller makes up is "_OTHER" (bounded cardinality). */
const GRANT_TYPES = new Set(["authorization_code", "refresh_token", "client_credentials"]);

function grantTypeOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const grant = new URLSearchParams(text).get("grant_type");
  if (grant === null) return undefined;
  return GRANT_TYPES.has(grant) ? grant : "_OTHER";
}

/**
 * Traces and measures every request the built-in authorization server answers. Its spans
 * continue a caller's `traceparent`; they are named `{method} {route}` (`POST /token`).
 */
export function instrumentAuthorizationServer(
  server: AuthorizationServer,
  options: TelemetryOptions = {},
): AuthorizationServer {
  return server.use(endpointSpans(tracingOf(options), authorizationMeters(options)));
}

function endpointSpans(tracing: Tracing, meters: AuthorizationMeters): MiddlewareHandler {
  return async (c, next) => {
    const tracingOn = tracing.enabled();
    if (!tracingOn && !meters.enabled) return next();
    const started = performance.now();
    const method = c.req.method;
    // The grant type is in the body, which the endpoint reads: read a copy, bounded.
    const grantType =
      method === "POST" && c.req.path.endsWith("/token")
        ? readBody(c.req.raw.clone(), TOKEN_FORM_LIMIT).then(grantTypeOf, () => undefined)
        : undefined;
    let span: Span | undefined;
    if (tracingOn) {
      const parent = extractFromHeaders(context.active(), (name) => c.req.header(name));
      span = tracing.tracer.startSpan(method, { kind: SpanKind.SERVER }, parent);
      await context.with(trace.setSpan(parent, span), next);
    } else {
      await next();
    }
    const route = c.req.routePath;
    const status = c.res.status;
    const attributes: Attributes = {
      [ATTR.httpMethod]: method,
      [ATTR.httpRoute]: route,
      [ATTR.httpStatus]: status,
    };
    const grant = await grantType;
    if (grant) attributes[ATTR.grantType] = grant;
    const error = c.error;
    const oauthError = error instanceof OAuthError ? error.code : undefined;
    if (span) {
      span.updateName(`${method} ${route}`);
      if (span.isRecording()) {
        span.setAttributes(attributes);
        if (oauthError) span.setAttribute(ATTR.errorType, oauthError);
        else if (status >= 500) span.setAttribute(ATTR.errorType, String(status));
        // HTTP conventions: a server span fails on 5xx; a 4xx is the client's mistake.
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
    if (!meters.enabled) return;
    meters.duration.record((performance.now() - started) / 1000, attributes);
    if (status === 429) {
      meters.rateLimited.add(1, { [ATTR.rateLimitScope]: "oauth", [ATTR.httpRoute]: route });
    }
    if (grant && status === 200) {
      meters.tokensIssued.add(1, { [ATTR.grantType]: grant });
      if (grant === "refresh_token") meters.refreshRotations.add(1);
    }
    if (error instanceof RefreshTokenReuseError) meters.refreshReuse.add(1);
  };
}
