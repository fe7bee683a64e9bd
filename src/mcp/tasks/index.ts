export { type TaskHost, Tasks } from "./manager.ts";
export type { TaskOptions } from "./options.ts";
export {
  RELATED_TASK,
  TASKS_EXTENSION,
  type TaskFlavor,
  type TaskRecord,
  type TaskStatus,
  type TaskSupport,
} from "./record.ts";
export { TaskStore } from "./store.ts";
export {
  DELIVERY_META,
  signWebhook,
  WEBHOOK_META,
  type WebhookFailure,
  type WebhookOptions,
  type WebhookRetry,
} from "./webhook.ts";
