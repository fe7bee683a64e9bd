/**
 * Compatibility flags. The client is lenient by default: it takes what real servers send when
 * the meaning is clear, and reports the deviation through `onWarning`. Each flag makes one
 * family of rules strict, for peers that must comply (conformance runs, CI against your own
 * server). Security rules are never relaxed.
 */
export interface StrictOptions {
  /** Fail when a message lacks a field the spec requires (lenient: fill in a default). */
  contract?: boolean;
  /** Fail a tool result without `content` (lenient: read it as an empty list). */
  toolResultContent?: boolean;
  /**
   * Throw OutputSchemaError when structuredContent does not match the listed outputSchema, or
   * is missing (lenient: warn and return the result).
   */
  outputSchema?: boolean;
  /** Refuse calls the server did not declare a capability for (lenient: try them). */
  capabilities?: boolean;
  /**
   * HTTP header rules: a reply's Content-Type must be JSON or SSE (lenient: recognize the body),
   * a session id must be visible ASCII, and an `MCP-Protocol-Version` the server sends back must
   * match the negotiated one.
   */
  headers?: boolean;
}

export type ResolvedStrictness = Required<StrictOptions>;

export function resolveStrict(strict: boolean | StrictOptions | undefined): ResolvedStrictness {
  const all = strict === true;
  const flags = typeof strict === "object" ? strict : {};
  return {
    contract: flags.contract ?? all,
    toolResultContent: flags.toolResultContent ?? all,
    outputSchema: flags.outputSchema ?? all,
    capabilities: flags.capabilities ?? all,
    headers: flags.headers ?? all,
  };
}
