import { randomToken } from "../../util/crypto.ts";
import type { JsonRpcErrorObject } from "../jsonrpc.ts";
import type { JsonObject } from "../types.ts";

/** The lifecycle of a task; the last three are terminal. */
export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled";

/** Whether a tool may run as a task (the `execution.taskSupport` of 2025-11-25). */
export type TaskSupport = "forbidden" | "optional" | "required";

/**
 * Which surface created a task: the experimental tasks of 2025-11-25 (`legacy`) or the
 * `io.modelcontextprotocol/tasks` extension of 2026-07-28 (`extension`). They differ in how
 * a task asks the client for input and in some wire names, not in their state machine.
 */
export type TaskFlavor = "legacy" | "extension";

/** The identifier of the 2026-07-28 tasks extension. */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** The `_meta` key that ties a message to its task (2025-11-25). */
export const RELATED_TASK = "io.modelcontextprotocol/related-task";

/** One task as the Store keeps it. Plain JSON: any instance sharing the Store can read it. */
export interface TaskRecord {
  taskId: string;
  /** The caller that created it (`principalOf`: kind, issuer, subject, client); "" for anonymous. */
  owner: string;
  flavor: TaskFlavor;
  status: TaskStatus;
  statusMessage?: string;
  /** Epoch milliseconds. */
  createdAt: number;
  updatedAt: number;
  ttlMs: number;
  pollIntervalMs: number;
  /** Requests to the client still unanswered (extension tasks), by key. */
  inputRequests?: Record<string, JsonObject>;
  /** Answers that came with tasks/update and that the running handler has not taken yet. */
  answers?: Record<string, JsonObject>;
  result?: JsonObject;
  error?: JsonRpcErrorObject;
}

export function isTerminal(status: TaskStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** 256 random bits, base64url: a task id is as good as a bearer token for anonymous callers. */
export function newTaskId(): string {
  return randomToken(32);
}

const TASK_ID = /^[A-Za-z0-9_-]{43}$/;

/** Whether a string could be one of our task ids; anything else is unknown without a lookup. */
export function isTaskId(value: unknown): value is string {
  return typeof value === "string" && TASK_ID.test(value);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The status a 2025-11-25 client sees: that revision reports a tool result with `isError` as
 * `failed`, where the extension reports it as `completed` with the result inline.
 */
function legacyStatus(record: TaskRecord): TaskStatus {
  return record.status === "completed" && record.result?.isError === true
    ? "failed"
    : record.status;
}

/** A 2025-11-25 `Task`. */
export function legacyTask(record: TaskRecord): JsonObject {
  const task: JsonObject = { taskId: record.taskId, status: legacyStatus(record) };
  if (record.statusMessage !== undefined) task.statusMessage = record.statusMessage;
  task.createdAt = iso(record.createdAt);
  task.lastUpdatedAt = iso(record.updatedAt);
  task.ttl = record.ttlMs;
  task.pollInterval = record.pollIntervalMs;
  return task;
}

/** A 2026-07-28 `Task`, as a CreateTaskResult carries it. */
export function extensionTask(record: TaskRecord): JsonObject {
  const task: JsonObject = { taskId: record.taskId, status: record.status };
  if (record.statusMessage !== undefined) task.statusMessage = record.statusMessage;
  task.createdAt = iso(record.createdAt);
  task.lastUpdatedAt = iso(record.updatedAt);
  task.ttlMs = record.ttlMs;
  task.pollIntervalMs = record.pollIntervalMs;
  return task;
}

/** A 2026-07-28 `DetailedTask`: the task plus what its status calls for. */
export function detailedTask(record: TaskRecord): JsonObject {
  const task = extensionTask(record);
  if (record.status === "input_required") task.inputRequests = { ...record.inputRequests };
  if (record.status === "completed" && record.result) task.result = record.result;
  if (record.status === "failed" && record.error) task.error = { ...record.error };
  return task;
}
