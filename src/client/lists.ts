/**
 * One pager for every paginated list (tools, resources, templates, prompts, tasks): a page at
 * a time, or every item across pages with a guard against a server that repeats a cursor.
 */
import type { JsonObject } from "../mcp/types.ts";
import type { RequestOptions } from "./connection.ts";
import type { ClientCore } from "./core.ts";
import { ProtocolError } from "./errors.ts";
import type { Prompt, Resource, ResourceTemplate } from "./types.ts";

/** One paginated list: its method, the result key holding its items, and how they are taken in. */
export interface ListKind<K extends string, T> {
  method: string;
  key: K;
  /** Throws when the list cannot be asked for on this connection. */
  check?(): void;
  /** Takes in one page's items: checks, records, converts. Default: as they are. */
  take?(items: unknown[]): T[];
}

/** One page of a list: the result as the server sent it, its items checked under `K`. */
export type ListPage<K extends string, T> = { [P in K]: T[] } & { nextCursor?: string };

export const RESOURCES: ListKind<"resources", Resource> = {
  method: "resources/list",
  key: "resources",
};

export const RESOURCE_TEMPLATES: ListKind<"resourceTemplates", ResourceTemplate> = {
  method: "resources/templates/list",
  key: "resourceTemplates",
};

export const PROMPTS: ListKind<"prompts", Prompt> = { method: "prompts/list", key: "prompts" };

type Send = (method: string, params: JsonObject, options: RequestOptions) => Promise<JsonObject>;

export class Lists {
  readonly #core: ClientCore;
  readonly #send: Send;

  constructor(core: ClientCore, send: Send) {
    this.#core = core;
    this.#send = send;
  }

  /** One page, from `params.cursor` (the first page without). */
  async page<K extends string, T>(
    kind: ListKind<K, T>,
    params: { cursor?: string },
    options: RequestOptions,
  ): Promise<ListPage<K, T>> {
    const { result, items, nextCursor } = await this.#fetch(kind, params.cursor, options);
    return {
      ...result,
      [kind.key]: items,
      ...(nextCursor !== undefined && { nextCursor }),
    } as ListPage<K, T>;
  }

  /** Every item, across pages. */
  async *all<K extends string, T>(
    kind: ListKind<K, T>,
    options: RequestOptions,
  ): AsyncGenerator<T> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const { items, nextCursor } = await this.#fetch(kind, cursor, options);
      yield* items;
      cursor = nextCursor;
      if (cursor !== undefined) {
        if (seen.has(cursor)) {
          throw new ProtocolError(
            "ERR_PAGINATION_LOOP",
            `The server repeated a ${kind.method} cursor`,
          );
        }
        seen.add(cursor);
      }
    } while (cursor !== undefined);
  }

  async #fetch<K extends string, T>(
    kind: ListKind<K, T>,
    cursor: string | undefined,
    options: RequestOptions,
  ): Promise<{ result: JsonObject; items: T[]; nextCursor: string | undefined }> {
    kind.check?.();
    const result = await this.#send(kind.method, cursor === undefined ? {} : { cursor }, options);
    const raw = this.#core.requireArray(result, kind.key, kind.method);
    const items = kind.take ? kind.take(raw) : (raw as T[]);
    const nextCursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
    return { result, items, nextCursor };
  }
}
