/**
 * The Skills extension (SEP-2640) of upstreams published as they are (`namespace: false`):
 * declared at the gateway when one of them declares it, with `skills/list`, `skills/get` and
 * `resources/directory/read` forwarded on the caller's connection. Their `skill://` files are
 * already published as resources. A namespaced upstream's skills are left out: its URIs carry
 * a `<name>+` prefix, and a skill URI must keep the `skill://` scheme.
 */
import { isObject } from "../mcp/content.ts";
import type { Context } from "../mcp/context.ts";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import { paginate } from "../mcp/listing.ts";
import type { McpServer } from "../mcp/server.ts";
import { SKILLS_EXTENSION } from "../mcp/skills.ts";
import type { JsonObject } from "../mcp/types.ts";
import { isModernVersion } from "../mcp/versions.ts";
import type { Upstream } from "./upstream.ts";

/** The extension's settings as an upstream declared them, or undefined when it did not. */
export function skillsOf(capabilities: JsonObject | undefined): JsonObject | undefined {
  const extensions = capabilities?.extensions;
  const settings = isObject(extensions) ? extensions[SKILLS_EXTENSION] : undefined;
  return isObject(settings) ? settings : undefined;
}

/** The upstream's scopes the caller lacks (its `requiredScopes` hold for its skills too). */
function missing(upstream: Upstream, ctx: Context): string[] {
  const held = ctx.auth?.scopes ?? [];
  return (upstream.options.requiredScopes ?? []).filter((scope) => !held.includes(scope));
}

/** 2026-07-28 results of skills/list and skills/get carry the list-caching attributes. */
function cacheable(result: JsonObject, ctx: Context): JsonObject {
  if (!isModernVersion(ctx.client.protocolVersion)) return result;
  return { ...result, ttlMs: 0, cacheScope: "private" };
}

/**
 * Forwards a request naming one URI to the first upstream that knows it: each the caller may
 * use is asked in turn, and one that does not know it (-32602) passes it on to the next.
 */
async function byUri(
  skilled: readonly Upstream[],
  ctx: Context,
  method: string,
  params: JsonObject,
): Promise<JsonObject> {
  const uri = typeof params.uri === "string" ? params.uri : "";
  let last: unknown = new McpError(ErrorCode.InvalidParams, `Unknown URI: ${uri}`, { uri });
  for (const upstream of skilled) {
    // An upstream the caller may not use is not asked: its skills stay unseen.
    if (missing(upstream, ctx).length) continue;
    try {
      return await upstream.forward(ctx, method, params, uri);
    } catch (error) {
      if (!(error instanceof McpError) || error.code !== ErrorCode.InvalidParams) throw error;
      last = error;
    }
  }
  throw last;
}

/**
 * Declares the Skills extension on the gateway's server and forwards its methods, when any
 * upstream in `skilled` (published without a namespace) declared it; `settings` are theirs.
 */
export function forwardSkills(
  server: McpServer,
  skilled: readonly { upstream: Upstream; settings: JsonObject }[],
): void {
  const upstreams = skilled
    .filter(({ upstream }) => upstream.options.namespace === false)
    .map(({ upstream }) => upstream);
  if (upstreams.length === 0) return;
  const directoryRead = skilled.some(({ settings }) => settings.directoryRead === true);
  server.extension(SKILLS_EXTENSION, {
    settings: directoryRead ? { directoryRead: true } : {},
    methods: {
      "skills/list": async (params, ctx) => {
        const all: JsonObject[] = [];
        for (const upstream of upstreams) {
          // Skills of an upstream the caller may not use are not shown, as its tools are not.
          if (missing(upstream, ctx).length) continue;
          let cursor: unknown;
          do {
            const page = await upstream.forward(
              ctx,
              "skills/list",
              cursor === undefined ? {} : { cursor },
              "skills/list",
            );
            if (Array.isArray(page.skills)) all.push(...page.skills.filter(isObject));
            cursor = page.nextCursor;
          } while (typeof cursor === "string" && cursor !== "");
        }
        const page = paginate(all, params.cursor, server.pageSize);
        const result: JsonObject = { skills: page.items };
        if (page.nextCursor) result.nextCursor = page.nextCursor;
        return cacheable(result, ctx);
      },
      "skills/get": async (params, ctx) => {
        const result = await byUri(upstreams, ctx, "skills/get", params);
        return cacheable({ skill: result.skill }, ctx);
      },
      ...(directoryRead && {
        "resources/directory/read": (params, ctx) =>
          byUri(upstreams, ctx, "resources/directory/read", params),
      }),
    },
  });
}
