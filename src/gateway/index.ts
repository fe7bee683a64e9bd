export { type Gateway, GatewayStartError, gateway } from "./gateway.ts";
export type { GatewayOptions, UpstreamOptions } from "./options.ts";
export type { UpstreamStatus } from "./upstream.ts";
