/**
 * The attribute names of the OpenTelemetry semantic conventions for MCP (docs/gen-ai/mcp.md)
 * and the general ones they borrow, plus this package's own, under `portcullis.`.
 */
export const ATTR = {
  method: "mcp.method.name",
  sessionId: "mcp.session.id",
  protocolVersion: "mcp.protocol.version",
  resourceUri: "mcp.resource.uri",
  toolName: "gen_ai.tool.name",
  promptName: "gen_ai.prompt.name",
  operation: "gen_ai.operation.name",
  requestId: "jsonrpc.request.id",
  statusCode: "rpc.response.status_code",
  errorType: "error.type",
  transport: "network.transport",
  protocolName: "network.protocol.name",
  serverAddress: "server.address",
  serverPort: "server.port",
  clientAddress: "client.address",
  clientPort: "client.port",
  httpMethod: "http.request.method",
  httpRoute: "http.route",
  httpStatus: "http.response.status_code",
  grantType: "oauth.grant_type",
  rateLimitScope: "portcullis.rate_limit.scope",
} as const;

/** The methods whose target is a resource URI (never in a span name: high cardinality). */
const RESOURCE_METHODS = new Set([
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
]);

/** What a request is about, as attributes, and the span name the conventions give it. */
export function targetOf(
  method: string,
  name: string | undefined,
): { key: string | undefined; spanName: string } {
  if (name === undefined) return { key: undefined, spanName: method };
  if (method === "tools/call") return { key: ATTR.toolName, spanName: `${method} ${name}` };
  if (method === "prompts/get") return { key: ATTR.promptName, spanName: `${method} ${name}` };
  if (RESOURCE_METHODS.has(method)) return { key: ATTR.resourceUri, spanName: method };
  return { key: undefined, spanName: method };
}
