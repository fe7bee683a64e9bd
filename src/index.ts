export * from "./http/index.ts";
export * from "./mcp/index.ts";
