import { ErrorCode, McpError } from "./jsonrpc.ts";
import type { Policed } from "./policy.ts";
import type { JsonObject } from "./types.ts";

/** Something a list method publishes: its wire form, built once when it changes. */
export interface Listed extends Policed {
  readonly definition: JsonObject;
  readonly enabled: boolean;
  /** OAuth scopes a caller needs to use it. */
  readonly scopes: readonly string[];
  /** Whether a signed-in user must stand behind the call (a client alone is refused). */
  readonly userRequired: boolean;
}

export interface Page {
  items: JsonObject[];
  nextCursor?: string;
}

function encodeCursor(offset: number): string {
  return btoa(`o${offset}`).replace(/=+$/, "");
}

function decodeCursor(cursor: unknown): number {
  if (typeof cursor !== "string") throw invalidCursor();
  let text: string;
  try {
    text = atob(cursor);
  } catch {
    throw invalidCursor();
  }
  const offset = /^o(\d{1,9})$/.exec(text)?.[1];
  if (offset === undefined) throw invalidCursor();
  return Number(offset);
}

function invalidCursor(): McpError {
  return new McpError(ErrorCode.InvalidParams, "Invalid cursor");
}

/**
 * An ordered collection of registered items with paginated listing. Order is registration
 * order, so pages are deterministic; the published list is rebuilt only after a change.
 */
export class Listing<T extends Listed> {
  readonly #items = new Map<string, T>();
  readonly #onChange: () => void;
  #published: JsonObject[] | undefined;
  #policed: T[] | undefined;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  get(key: string): T | undefined {
    const item = this.#items.get(key);
    return item?.enabled ? item : undefined;
  }

  has(key: string): boolean {
    return this.#items.has(key);
  }

  values(): IterableIterator<T> {
    return this.#items.values();
  }

  add(key: string, item: T): void {
    if (this.#items.has(key)) throw new TypeError(`"${key}" is already registered`);
    this.#items.set(key, item);
    this.changed();
  }

  delete(key: string): boolean {
    const removed = this.#items.delete(key);
    if (removed) this.changed();
    return removed;
  }

  /** Drops the published list and tells listeners; call after an item's definition changes. */
  changed(): void {
    this.#published = undefined;
    this.#policed = undefined;
    this.#onChange();
  }

  /** The items with an access check (`canAccess`): the only ones a caller's claims can hide. */
  policed(): readonly T[] {
    return (this.#policed ??= [...this.#items.values()].filter((item) => item.canAccess));
  }

  get size(): number {
    return this.#items.size;
  }

  /** The published definitions, in order; `visible` narrows the list for one caller. */
  definitions(visible?: (item: T) => boolean): JsonObject[] {
    if (!visible) {
      return (this.#published ??= [...this.#items.values()]
        .filter((item) => item.enabled)
        .map((item) => item.definition));
    }
    const all: JsonObject[] = [];
    for (const item of this.#items.values()) {
      if (item.enabled && visible(item)) all.push(item.definition);
    }
    return all;
  }

  /** One page of definitions; `visible` narrows the list for one caller. */
  page(cursor: unknown, pageSize: number, visible?: (item: T) => boolean): Page {
    return paginate(this.definitions(visible), cursor, pageSize);
  }
}

/** One page of a list, from an opaque cursor (an offset into the list). */
export function paginate(all: JsonObject[], cursor: unknown, pageSize: number): Page {
  const start = cursor === undefined ? 0 : decodeCursor(cursor);
  if (start > all.length) throw invalidCursor();
  if (start === 0 && all.length <= pageSize) return { items: all };
  const end = start + pageSize;
  const items = all.slice(start, end);
  return end < all.length ? { items, nextCursor: encodeCursor(end) } : { items };
}
