import { serve } from "../../src/node/index.ts";
import { app } from "./server.ts";

const running = await serve(app, { port: Number(process.env.PORT ?? 3000) });
console.log(
  `Portcullis demo: MCP endpoint at ${running.url.replace("127.0.0.1", "localhost")}/mcp`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void running.close().then(() => process.exit(0)));
}
