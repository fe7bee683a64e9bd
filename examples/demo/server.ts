import type { JWK } from "jose";
import { en } from "zod/locales";
import * as z from "zod/mini";
import { authorizationServer, devLogin, type LoginProvider } from "../../src/auth/index.ts";
import {
  type Context,
  McpServer,
  mcpApp,
  memoryEventStore,
  resourceNotFound,
} from "../../src/index.ts";
import { memoryStore, type Store } from "../../src/storage/index.ts";
import { isLoopbackHost } from "../../src/util/loopback.ts";

// The demo's schemas use zod/mini, the smaller build of the same zod (a Worker's bundle stays
// under 100 KiB gzipped; classic `zod` works the same way). zod/mini has no error messages
// unless a locale is configured: English, so invalid arguments are explained to the model.
z.config(en());

/** Notes one person may keep, and the longest note: a real service bounds what it stores. */
const MAX_NOTES = 1000;
const MAX_NOTE_LENGTH = 10_000;

/**
 * The demo server: a small notes service where each person sees only their own notes, keyed
 * by the subject of their token. Without an authorization server (`auth: false`) every caller
 * is the same anonymous person. The same file serves every runtime.
 */
export function createDemoServer(): McpServer {
  /** Each person's notes by id. Ids are unique across people, as a database would make them. */
  const notebooks = new Map<string, Map<string, string>>();
  let lastId = 0;
  const notebook = (ctx: Context): Map<string, string> => {
    const owner = ctx.auth?.subject ?? "";
    let notes = notebooks.get(owner);
    if (!notes) {
      notes = new Map();
      notebooks.set(owner, notes);
    }
    return notes;
  };
  const mcp = new McpServer({
    name: "notes",
    version: "1.0.0",
    instructions: "A tiny notes service.",
  });

  mcp.tool(
    "add_note",
    {
      description: "Store a note",
      input: z.object({
        text: z
          .string()
          .check(z.minLength(1), z.maxLength(MAX_NOTE_LENGTH), z.describe("The note")),
      }),
      output: z.object({ id: z.string() }),
      annotations: { destructiveHint: false },
      scopes: ["notes:write"],
    },
    async ({ text }, ctx) => {
      const notes = notebook(ctx);
      if (notes.size >= MAX_NOTES)
        throw new Error(`You have ${MAX_NOTES} notes; that is the limit`);
      await ctx.progress(1, 2, "saving");
      const id = String(++lastId);
      notes.set(id, text);
      ctx.log.info(`note ${id} saved by ${ctx.auth?.subject ?? "anonymous"}`);
      mcp.resourceUpdated(`notes://${id}`);
      return { id };
    },
  );

  mcp.tool(
    "list_notes",
    { description: "List your notes", annotations: { readOnlyHint: true } },
    (_args, ctx) =>
      [...notebook(ctx)].map(([id, text]) => `${id}: ${text}`).join("\n") || "(no notes yet)",
  );

  mcp.resource(
    "notes://{id}",
    {
      description: "One of your notes",
      mimeType: "text/plain",
      complete: {
        id: (value, { ctx }) => [...notebook(ctx).keys()].filter((id) => id.startsWith(value)),
      },
      list: (ctx) =>
        [...notebook(ctx).keys()].map((id) => ({ uri: `notes://${id}`, name: `note ${id}` })),
    },
    ({ id }, ctx, uri) => {
      // Someone else's note reads exactly like one that does not exist.
      const text = notebook(ctx).get(id);
      if (text === undefined) throw resourceNotFound(uri);
      return text;
    },
  );

  mcp.prompt(
    "summarize",
    { description: "Summarize the notes on a topic", args: z.object({ topic: z.string() }) },
    ({ topic }) => [{ role: "user", content: `Summarize my notes about ${topic}` }],
  );
  return mcp;
}

/** What differs between runtimes; everything else in the demo is the same on all four. */
export interface DemoAppOptions {
  /** false: no authorization server at all (the endpoint is open). Default true. */
  auth?: boolean;
  /** Where the authorization server keeps its state. Default: an in-memory store. */
  store?: Store;
  /** How people sign in. Default: the dev login form, which only runs on loopback hosts. */
  login?: LoginProvider;
  /** Signs cookies and seals secrets (e.g. AUTH_SECRET); at least 32 characters. */
  secret?: string;
  /** Private signing JWKs (e.g. from SIGNING_KEY), newest first. Default: generated and stored. */
  signingKeys?: readonly JWK[];
  /** The issuer URL; set it in production. Default: the origin of each request. */
  issuer?: string;
  /**
   * How long a rotated refresh token may be presented again while its successor is unused
   * (a client that lost the response). Default 10 s; 0 makes every refresh token strictly
   * single-use.
   */
  refreshGraceMs?: number;
  /**
   * 2025-era sessions (GET stream, resumable SSE) kept in this process. Default true; serverless
   * runtimes where one instance does not see every request turn it off.
   */
  sessions?: boolean;
}

/** The demo app: the notes server behind the built-in authorization server (dev login). */
export function createDemoApp(options: DemoAppOptions = {}) {
  const store = options.store ?? memoryStore();
  const stateful = options.sessions ?? true;
  return mcpApp(createDemoServer(), {
    path: "/mcp",
    ...(stateful ? { sessions: true, eventStore: memoryEventStore() } : {}),
    ...(options.auth === false
      ? {}
      : {
          auth: authorizationServer({
            store,
            login: options.login ?? devLogin(),
            scopes: ["notes:read", "notes:write"],
            ...(options.secret ? { secret: options.secret } : {}),
            ...(options.signingKeys?.length ? { signing: { keys: options.signingKeys } } : {}),
            ...(options.issuer ? { issuer: options.issuer } : {}),
            ...(options.refreshGraceMs === undefined
              ? {}
              : { lifetimes: { refreshGraceMs: options.refreshGraceMs } }),
          }),
        }),
  });
}

/**
 * Reads the demo's settings from environment variables (Node's `process.env`, Deno's
 * `Deno.env.toObject()`, Bun's `Bun.env`, a Worker's `env`); see .env.example.
 */
export function demoOptionsFromEnv(env: Record<string, unknown>): DemoAppOptions {
  const text = (name: string) => {
    const value = env[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  };
  const options: DemoAppOptions = {};
  const secret = text("AUTH_SECRET");
  if (secret) options.secret = secret;
  const key = text("SIGNING_KEY");
  if (key) options.signingKeys = parseSigningKeys(key);
  const issuer = text("ISSUER");
  if (issuer) options.issuer = issuer;
  const grace = text("REFRESH_GRACE_MS");
  if (grace !== undefined) {
    const ms = Number(grace);
    if (!Number.isInteger(ms) || ms < 0) throw new TypeError("REFRESH_GRACE_MS must be ms >= 0");
    options.refreshGraceMs = ms;
  }
  return options;
}

/**
 * The issuer of a server bound to loopback, from its bind address and port. Bun and Deno do
 * not tell the app where it listens, so their entries name this issuer for devLogin() to know
 * it serves this machine only; bound anywhere else there is none, and devLogin() refuses.
 */
export function loopbackIssuer(hostname: string, port: number): string | undefined {
  if (!isLoopbackHost(hostname)) return undefined;
  const host = hostname.replace(/^\[|\]$/g, "");
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** SIGNING_KEY holds one private JWK, or a JSON array of them (newest first) during rotation. */
function parseSigningKeys(text: string): JWK[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError("SIGNING_KEY must be a private JWK as JSON (or an array of them)");
  }
  const keys = Array.isArray(parsed) ? parsed : [parsed];
  for (const key of keys) {
    if (typeof key !== "object" || key === null || typeof (key as JWK).kty !== "string") {
      throw new TypeError("SIGNING_KEY must be a private JWK as JSON (or an array of them)");
    }
  }
  return keys as JWK[];
}
