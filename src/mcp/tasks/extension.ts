import { MAX_SUBSCRIPTIONS } from "../access.ts";
import type { ServerEvent } from "../events.ts";
import type { ExtensionConfig, ExtensionOffer } from "../extension.ts";
import type { Listing } from "../listing.ts";
import type { RegisteredTool } from "../tools.ts";
import type { JsonObject } from "../types.ts";
import { hasLegacyTasks, knowsToolExecution } from "../versions.ts";
import { declaresExtension, missingExtension, Tasks } from "./manager.ts";
import type { TaskOptions } from "./options.ts";
import { detailedTask, isTaskId, type TaskRecord } from "./record.ts";

/** The topic of a task's status events. */
const topicOf = (taskId: string) => `task:${taskId}`;

/**
 * The `notifications/tasks` event for a 2026-07-28 task whose record changed: the whole
 * DetailedTask, as tasks/get would give it now, for its owner's listeners only.
 */
function statusEvent(record: TaskRecord): ServerEvent | undefined {
  if (record.flavor !== "extension") return undefined;
  return {
    type: "extension",
    topic: topicOf(record.taskId),
    owner: record.owner,
    notification: { jsonrpc: "2.0", method: "notifications/tasks", params: detailedTask(record) },
  };
}

/** The tasks of a server whose tools are in `tools`; `emit` carries their status events. */
export function toolTasks(
  options: TaskOptions,
  tools: Listing<RegisteredTool>,
  pageSize: number,
  emit: (event: ServerEvent) => void,
): Tasks {
  return new Tasks(options, {
    taskSupport: (name) => tools.get(name)?.taskSupport,
    offersTasks: () => {
      for (const tool of tools.values()) if (tool.taskSupport !== "forbidden") return true;
      return false;
    },
    pageSize,
    changed: (record) => {
      const event = statusEvent(record);
      if (event) emit(event);
    },
  });
}

function withoutExecution(tool: JsonObject): JsonObject {
  if (!("execution" in tool)) return tool;
  const { execution: _execution, ...rest } = tool;
  return rest;
}

/**
 * Tasks as an extension of the server (`io.modelcontextprotocol/tasks`, SEP-2663), built on
 * the same seam any extension uses. 2026-07-28 declares it under `capabilities.extensions`;
 * 2025-11-25 knew tasks first as a core capability, so there it is declared as `tasks`; the
 * older revisions have none. Methods exist in the era that has them: tasks/result and
 * tasks/list in the 2025 sessions, tasks/update in 2026-07-28.
 */
export function tasksExtension(tasks: Tasks): ExtensionConfig {
  return {
    capabilities: (offer: ExtensionOffer) =>
      offer.era === "session" && hasLegacyTasks(offer.version)
        ? maybe("tasks", tasks.capability(false, offer.authenticated))
        : undefined,
    settings: (offer: ExtensionOffer) =>
      offer.era === "stateless" && tasks.capability(true, offer.authenticated) ? {} : undefined,
    methods: {
      "tasks/get": (params, _ctx, exchange) => tasks.get(params, exchange),
      "tasks/cancel": (params, _ctx, exchange) => tasks.cancel(params, exchange),
      "tasks/result": {
        handler: (params, ctx, exchange) => tasks.result(params, ctx, exchange),
        eras: ["session"],
      },
      "tasks/list": {
        handler: (params, _ctx, exchange) => tasks.list(params, exchange),
        eras: ["session"],
      },
      "tasks/update": {
        handler: (params, _ctx, exchange) => tasks.update(params, exchange),
        eras: ["stateless"],
      },
    },
    // Only 2025-11-25 knows `execution`; the extension of 2026-07-28 has no per-tool flag.
    tool: (definition, _tool, offer) =>
      knowsToolExecution(offer.version) ? definition : withoutExecution(definition),
    toolCall: (params, exchange, inline) => tasks.prepare(params, exchange, inline),
    // Task ids are unguessable and events go to their owner only, so every well-formed id
    // asked for is acknowledged: someone else's task reads the same as an unknown one.
    listen: (filter, exchange) => {
      if (filter.taskIds === undefined) return undefined;
      if (!declaresExtension(exchange.peer)) throw missingExtension();
      const ids = Array.isArray(filter.taskIds) ? filter.taskIds.filter(isTaskId) : [];
      const taskIds = [...new Set(ids)].slice(0, MAX_SUBSCRIPTIONS);
      return { accepted: { taskIds }, topics: taskIds.map(topicOf) };
    },
  };
}

function maybe(key: string, value: JsonObject | undefined): JsonObject | undefined {
  return value === undefined ? undefined : { [key]: value };
}
