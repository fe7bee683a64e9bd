// Node entry: `npm start` (tsx examples/demo/node.ts). The app is the same file every runtime serves.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { serve } from "../../src/node/index.ts";
import { demoBanner } from "./banner.ts";
import { createDemoApp, demoOptionsFromEnv } from "./server.ts";

// Settings from .env (see .env.example), where there is one; the environment wins over it.
const envFile = resolve(".env");
const hasEnv = existsSync(envFile);
if (hasEnv) process.loadEnvFile(envFile);

const app = createDemoApp(demoOptionsFromEnv(process.env));
const running = await serve(app, {
  port: Number(process.env.PORT ?? 3000),
  hostname: process.env.HOST ?? "127.0.0.1",
  trustProxy: process.env.TRUST_PROXY === "true",
});
const mcp = `${running.url.replace("127.0.0.1", "localhost")}/mcp`;
process.stderr.write(`${demoBanner({ mcp, envFile: hasEnv ? envFile : undefined })}\n`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void running.close().then(() => process.exit(0)));
}
