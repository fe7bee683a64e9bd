import type { Store } from "../../storage/store.ts";
import { toHex } from "../../util/bytes.ts";
import { type Clock, systemClock } from "../../util/clock.ts";
import { digest } from "../../util/crypto.ts";
import { ErrorCode, McpError } from "../jsonrpc.ts";
import { isTaskId, isTerminal, type TaskRecord } from "./record.ts";

/**
 * One entry of a caller's task index: its place in creation order (unique and increasing,
 * near the creation time in ms), the task id, and its expiry (epoch ms).
 */
type IndexEntry = [order: number, taskId: string, expiresAt: number];

const recordKey = (taskId: string) => `mcp:task:${taskId}`;

async function indexKey(owner: string): Promise<string> {
  // Subjects can be long or odd; a digest keeps the key short and opaque.
  return `mcp:tasks-of:${toHex(await digest(owner))}`;
}

function encodeCursor(entry: IndexEntry): string {
  return btoa(JSON.stringify(entry[0]));
}

function decodeCursor(cursor: unknown): number {
  try {
    if (typeof cursor !== "string" || cursor.length > 100) throw new Error();
    const value: unknown = JSON.parse(atob(cursor));
    if (typeof value === "number" && Number.isFinite(value)) return value;
  } catch {
    // Falls through to the error below.
  }
  throw new McpError(ErrorCode.InvalidParams, "Invalid cursor");
}

/** How many times a write retries when other writers keep changing the record under it. */
const MAX_ATTEMPTS = 64;

/**
 * Task records in a Store, each under its own key with the task's TTL, so any instance that
 * shares the Store can answer for any task. Every change is a compare-and-set on the whole
 * record: concurrent writers cannot lose each other's changes, and a terminal task never
 * changes again. Tasks of authenticated callers are also indexed per caller for tasks/list.
 */
export class TaskStore {
  readonly #store: Store;
  readonly #maxPerCaller: number;
  readonly #onChange: ((record: TaskRecord) => void) | undefined;
  /** What task lifetimes are measured by (epoch ms). */
  readonly clock: Clock;

  /** `onChange` hears every record this instance writes: created, or changed by `update`. */
  constructor(
    store: Store,
    options: {
      maxTasksPerCaller?: number;
      clock?: Clock;
      onChange?: (record: TaskRecord) => void;
    } = {},
  ) {
    this.#store = store;
    this.#onChange = options.onChange;
    this.#maxPerCaller = options.maxTasksPerCaller ?? 1000;
    this.clock = options.clock ?? systemClock;
  }

  /** Writes a new task; once this resolves, reads of the task find it. */
  async create(record: TaskRecord): Promise<void> {
    if (record.owner !== "") await this.#index(record);
    if (!(await this.#store.add(recordKey(record.taskId), record, { ttlMs: record.ttlMs }))) {
      // 256 random bits do not collide; this is a broken random source, not bad luck.
      throw new McpError(ErrorCode.InternalError, "Task id collision");
    }
    this.#onChange?.(record);
  }

  /** The task if it exists and belongs to `owner`; someone else's task reads as no task. */
  async get(taskId: unknown, owner: string): Promise<TaskRecord | undefined> {
    if (!isTaskId(taskId)) return undefined;
    const record = await this.#store.get<TaskRecord>(recordKey(taskId));
    return record?.owner === owner ? record : undefined;
  }

  /** The task whoever owns it: for the instance that runs its handler. */
  peek(taskId: string): Promise<TaskRecord | undefined> {
    return this.#store.get<TaskRecord>(recordKey(taskId));
  }

  /**
   * Applies `change` atomically: it sees the current record and returns the next one, or
   * undefined to leave it. A terminal record is never offered for change. Resolves with the
   * record as it now stands and whether this call changed it; undefined when it is gone.
   */
  async update(
    taskId: string,
    change: (current: TaskRecord) => TaskRecord | undefined,
  ): Promise<{ record: TaskRecord; changed: boolean } | undefined> {
    const key = recordKey(taskId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.#store.get<TaskRecord>(key);
      if (!current) return undefined;
      const next = isTerminal(current.status) ? undefined : change(current);
      if (!next) return { record: current, changed: false };
      const now = this.clock();
      const remaining = current.createdAt + current.ttlMs - now;
      if (remaining <= 0) return undefined;
      const written = { ...next, updatedAt: now };
      if (await this.#store.compareAndSet(key, current, written, { ttlMs: remaining })) {
        this.#onChange?.(written);
        return { record: written, changed: true };
      }
    }
    throw new McpError(ErrorCode.InternalError, "Task store contention");
  }

  /** A page of an owner's live tasks, oldest first, from an opaque cursor. */
  async list(
    owner: string,
    cursor: unknown,
    pageSize: number,
  ): Promise<{ records: TaskRecord[]; nextCursor?: string }> {
    const now = this.clock();
    const entries = ((await this.#store.get<IndexEntry[]>(await indexKey(owner))) ?? []).filter(
      (entry) => entry[2] > now,
    );
    let start = 0;
    if (cursor !== undefined) {
      // A position rather than an id: the cursor stays good when the task it names expires.
      const after = decodeCursor(cursor);
      start = entries.findIndex((entry) => entry[0] > after);
      if (start < 0) start = entries.length;
    }
    const page = entries.slice(start, start + pageSize);
    const found = await Promise.all(page.map((entry) => this.get(entry[1], owner)));
    const records = found.filter((record): record is TaskRecord => record !== undefined);
    const last = page.at(-1);
    return start + pageSize < entries.length && last
      ? { records, nextCursor: encodeCursor(last) }
      : { records };
  }

  /** Adds a task to its owner's index, refusing past the per-caller limit. */
  async #index(record: TaskRecord): Promise<void> {
    const key = await indexKey(record.owner);
    const expiresAt = record.createdAt + record.ttlMs;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.#store.get<IndexEntry[]>(key);
      const now = this.clock();
      const live = (current ?? []).filter((item) => item[2] > now);
      if (live.length >= this.#maxPerCaller) {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `Too many tasks: at most ${this.#maxPerCaller} per caller until some expire`,
        );
      }
      // Appended in order, so the array stays sorted by `order`.
      const order = Math.max(record.createdAt, (live.at(-1)?.[0] ?? 0) + 1);
      const next: IndexEntry[] = [...live, [order, record.taskId, expiresAt]];
      const ttlMs = Math.max(...next.map((item) => item[2])) - now;
      if (await this.#store.compareAndSet(key, current, next, { ttlMs })) return;
    }
    throw new McpError(ErrorCode.InternalError, "Task store contention");
  }
}
