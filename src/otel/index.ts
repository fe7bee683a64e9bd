export { ATTR } from "./attributes.ts";
export { instrumentAuthorizationServer } from "./auth.ts";
export { instrumentClient } from "./client.ts";
export { RATE_LIMIT_METRIC, rateLimitCounter } from "./metrics.ts";
export { instrumentServer } from "./server.ts";
export type { TelemetryOptions } from "./telemetry.ts";
