/** Task objects as the server sends them, in either era, read into one shape. */
import { isObject } from "../mcp/content.ts";
import type { JsonObject } from "../mcp/types.ts";
import { ProtocolError } from "./errors.ts";
import type { TaskInfo, TaskStatus } from "./types.ts";

/** The identifier of the 2026-07-28 tasks extension. */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
/**
 * The request `_meta` key under which our server takes a completion webhook. Kept here rather
 * than imported from the server, whose module pulls in its address checks.
 */
export const WEBHOOK_META = "portcullis/webhook";
/** The tool `_meta` key our server lists a webhook-delivered tool with. */
export const DELIVERY_META = "portcullis/delivery";

const STATUSES: ReadonlySet<string> = new Set([
  "working",
  "input_required",
  "completed",
  "failed",
  "cancelled",
]);

export function isTerminal(status: TaskStatus | undefined): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/**
 * A task object from either era in one shape; throws ERR_CONTRACT for one without an id or
 * with a status no revision has.
 */
export function parseTask(value: unknown, what: string): TaskInfo {
  if (!isObject(value) || typeof value.taskId !== "string" || value.taskId === "") {
    throw new ProtocolError("ERR_CONTRACT", `${what} has no taskId`);
  }
  const status = value.status;
  if (typeof status !== "string" || !STATUSES.has(status)) {
    throw new ProtocolError(
      "ERR_CONTRACT",
      `${what} has a status no revision knows: ${JSON.stringify(status)}`,
    );
  }
  const info: TaskInfo = { taskId: value.taskId, status: status as TaskStatus };
  if (typeof value.statusMessage === "string") info.statusMessage = value.statusMessage;
  if (typeof value.createdAt === "string") info.createdAt = value.createdAt;
  if (typeof value.lastUpdatedAt === "string") info.lastUpdatedAt = value.lastUpdatedAt;
  // 2026-07-28 names carry the unit; 2025-11-25 ones do not.
  const ttl = value.ttlMs ?? value.ttl;
  if (ttl === null || (typeof ttl === "number" && Number.isFinite(ttl) && ttl >= 0)) {
    info.ttlMs = ttl;
  }
  const poll = value.pollIntervalMs ?? value.pollInterval;
  if (typeof poll === "number" && Number.isFinite(poll) && poll >= 0) info.pollIntervalMs = poll;
  if (isObject(value.inputRequests)) {
    // Built from entries: a key named `__proto__` stays a key, never the object's prototype.
    info.inputRequests = Object.fromEntries(
      Object.entries(value.inputRequests).filter((entry): entry is [string, JsonObject] =>
        isObject(entry[1]),
      ),
    );
  }
  if (isObject(value.result)) info.result = value.result;
  const error = value.error;
  if (isObject(error) && typeof error.code === "number" && typeof error.message === "string") {
    info.error =
      error.data === undefined
        ? { code: error.code, message: error.message }
        : { code: error.code, message: error.message, data: error.data };
  }
  return info;
}
