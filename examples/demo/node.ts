// Node entry: `npm start` (tsx examples/demo/node.ts). The app is the same file every runtime serves.
import { serve } from "../../src/node/index.ts";
import { createDemoApp, demoOptionsFromEnv } from "./server.ts";

const app = createDemoApp(demoOptionsFromEnv(process.env));
const running = await serve(app, {
  port: Number(process.env.PORT ?? 3000),
  hostname: process.env.HOST ?? "127.0.0.1",
  trustProxy: process.env.TRUST_PROXY === "true",
});
console.log(
  `Portcullis demo: MCP endpoint at ${running.url.replace("127.0.0.1", "localhost")}/mcp`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void running.close().then(() => process.exit(0)));
}
