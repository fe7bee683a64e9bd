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
