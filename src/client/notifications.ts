import type { JsonRpcNotification } from "../mcp/jsonrpc.ts";
import type { LoggingLevel } from "../mcp/types.ts";
import type { Progress } from "./connection.ts";
import type { ClientCore } from "./core.ts";
import type { Subscriptions } from "./subscriptions.ts";
import { parseTask } from "./task-info.ts";
import type { ToolCatalog } from "./tool-catalog.ts";
import type { LogMessage, TaskInfo } from "./types.ts";

/**
 * Hands a notification from the server to the client's hooks: the specific one, then
 * `onNotification`. In 2026-07-28 only those of the live subscriptions/listen stream count.
 */
export function deliverNotification(
  notification: JsonRpcNotification,
  core: ClientCore,
  subscriptions: Subscriptions,
  catalog: ToolCatalog,
): void {
  const params = notification.params ?? {};
  const options = core.options;
  // Change notifications of 2026-07-28 come tagged with the stream that carries them:
  // only those of the live stream count, and its acknowledgement is the stream's own.
  const routing = subscriptions.route(notification);
  if (routing === "stale") return;
  if (routing === "ack") {
    core.hook(() => options.onNotification?.(notification));
    return;
  }
  switch (notification.method) {
    case "notifications/message": {
      const message: LogMessage = { level: params.level as LoggingLevel, data: params.data };
      if (typeof params.logger === "string") message.logger = params.logger;
      core.hook(() => options.onLog?.(message));
      break;
    }
    case "notifications/tools/list_changed":
      catalog.forgetSchemas();
      core.hook(() => options.onToolsChanged?.());
      break;
    case "notifications/resources/list_changed":
      core.hook(() => options.onResourcesChanged?.());
      break;
    case "notifications/prompts/list_changed":
      core.hook(() => options.onPromptsChanged?.());
      break;
    case "notifications/resources/updated":
      if (typeof params.uri === "string") {
        const uri = params.uri;
        // In 2026-07-28 only URIs this client subscribed to, whatever a server sends.
        if (routing === "deliver" && !subscriptions.watches(uri)) break;
        core.hook(() => options.onResourceUpdated?.(uri));
      }
      break;
    case "notifications/tasks": {
      // Only on the live stream, and only for tasks this client asked about.
      const taskId = params.taskId;
      if (routing !== "deliver" || typeof taskId !== "string") break;
      if (!subscriptions.watchesTask(taskId)) break;
      let task: TaskInfo;
      try {
        task = parseTask(params, "A notifications/tasks");
      } catch (error) {
        // A notification has no caller to throw to: reported, never thrown.
        core.warn({ code: "contract", message: (error as Error).message });
        break;
      }
      core.hook(() => options.onTaskStatus?.(task));
      break;
    }
    case "notifications/progress":
      core.hook(() =>
        options.onProgress?.(params as unknown as Progress & { progressToken: string | number }),
      );
      break;
  }
  core.hook(() => options.onNotification?.(notification));
}
