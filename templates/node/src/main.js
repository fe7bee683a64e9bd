// `npm start`: serves the app on this machine and says how to connect to it.
import { existsSync } from "node:fs";
import { serve } from "portcullis/node";
import { createApp } from "./app.js";

if (existsSync(".env")) process.loadEnvFile(".env");

const app = createApp({
  secret: process.env.AUTH_SECRET,
  machineClientSecret: process.env.MACHINE_CLIENT_SECRET,
});
const server = await serve(app, { port: Number(process.env.PORT ?? 3000) });
// The dev login serves loopback issuers only; localhost names one.
const mcp = `${server.url.replace("127.0.0.1", "localhost")}/mcp`;
console.error(`MCP endpoint at ${mcp}, protected: sign in with the dev login (any user name).
Connect:
  npx @modelcontextprotocol/inspector     then Streamable HTTP, ${mcp}
  npx mcp-remote ${mcp}
  npx portcullis connect ${mcp}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
