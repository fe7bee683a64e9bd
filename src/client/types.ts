/** Wire shapes the client receives, beyond those the server core already defines. */
import type { Annotations, Icon, JsonObject, LoggingLevel, ToolAnnotations } from "../mcp/types.ts";

export interface Tool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: JsonObject;
  outputSchema?: JsonObject;
  annotations?: ToolAnnotations;
  icons?: Icon[];
  _meta?: JsonObject;
}

export interface Resource {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  size?: number;
  icons?: Icon[];
  annotations?: Annotations;
  _meta?: JsonObject;
}

export interface ResourceTemplate {
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  icons?: Icon[];
  annotations?: Annotations;
  _meta?: JsonObject;
}

export interface PromptArgument {
  name: string;
  title?: string;
  description?: string;
  required?: boolean;
}

export interface Prompt {
  name: string;
  title?: string;
  description?: string;
  arguments?: PromptArgument[];
  icons?: Icon[];
  _meta?: JsonObject;
}

export interface ListToolsResult {
  tools: Tool[];
  nextCursor?: string;
}

export interface ListResourcesResult {
  resources: Resource[];
  nextCursor?: string;
}

export interface ListResourceTemplatesResult {
  resourceTemplates: ResourceTemplate[];
  nextCursor?: string;
}

export interface ListPromptsResult {
  prompts: Prompt[];
  nextCursor?: string;
}

export type CompletionReference =
  | { type: "ref/prompt"; name: string }
  | { type: "ref/resource"; uri: string };

export interface CompleteResult {
  completion: { values: string[]; total?: number; hasMore?: boolean };
  _meta?: JsonObject;
}

/** A notifications/message from the server. */
export interface LogMessage {
  level: LoggingLevel;
  logger?: string;
  data: unknown;
}

/** An elicitation/create request, with the mode made explicit (2025-06-18 servers omit it). */
export type ElicitationRequest =
  | { mode: "form"; message: string; requestedSchema: JsonObject; _meta?: JsonObject }
  | { mode: "url"; message: string; url: string; elicitationId: string; _meta?: JsonObject };

/** Where a task stands; the last three are terminal. */
export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled";

/**
 * A task as the server last reported it, in one shape for both eras: 2025-11-25 `ttl` and
 * `pollInterval` become `ttlMs` and `pollIntervalMs`.
 */
export interface TaskInfo {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  /** ISO 8601. */
  createdAt?: string;
  /** ISO 8601. */
  lastUpdatedAt?: string;
  /** How long the server keeps the task; null for no limit (2025-11-25). */
  ttlMs?: number | null;
  /** How often the server asks to be polled. */
  pollIntervalMs?: number;
  /** 2026-07-28, `input_required`: what the task waits on, by key (answer with tasks/update). */
  inputRequests?: Record<string, JsonObject>;
  /** 2026-07-28, `completed`: the tool's result. */
  result?: JsonObject;
  /** 2026-07-28, `failed`: the JSON-RPC error the call ended with. */
  error?: { code: number; message: string; data?: unknown };
}

/** One page of tasks/list (2025-11-25). */
export interface ListTasksResult {
  tasks: TaskInfo[];
  nextCursor?: string;
}
