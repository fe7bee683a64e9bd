// Portcullis: our McpServer + mcpApp. BENCH_MODE=stateless|stateful,
// BENCH_RESPONSE=json|sse (mcpApp's jsonResponse). `sessions` present => stateful.
// BENCH_MAX_SESSIONS raises the live-session bound (default 10,000, LRU-evicted) so the
// idle-session run can hold all of its sessions.
// BENCH_AUTH=builtin protects the endpoint with the built-in authorization server (ES256
// tokens, in-memory Store); the runner gets a token for the configured client BENCH_CLIENT
// (client_credentials), so `echo` admits callers without a user.
import { benchMode, startBenchServer } from "./_common.ts";
import { portcullisApp } from "./portcullis-app.ts";

const { stateful, json } = benchMode();
const { app, name } = portcullisApp({
  stateful,
  json,
  builtIn: process.env.BENCH_AUTH === "builtin",
  maxSessions: Number(process.env.BENCH_MAX_SESSIONS ?? 0),
});

startBenchServer(name, app.fetch);
