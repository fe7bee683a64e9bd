/**
 * One agent process for the shared-token suite: run as a child process
 * (`node --import tsx test/redis/token-client.ts`). It builds an OAuthAuthorizer over
 * storeTokenStore and a discovery cache in Redis, prints READY, waits for a line on stdin
 * (so that several start their first request together), then connects to MCP_URL, calls
 * list_notes and prints `RESULT <json>`. It never signs anyone in: it has no redirect handler.
 *
 * Environment: REDIS_URL, PREFIX, KEY (the token store's sealing secret), MCP_URL.
 */
import {
  discoveryCache,
  McpClient,
  OAuthAuthorizer,
  storeTokenStore,
} from "../../src/client/index.ts";
import { connectRedis, redisStore } from "../../src/redis/index.ts";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};
const redis = connectRedis(env("REDIS_URL"));
redis.on("error", () => {});
const store = redisStore({ client: redis, prefix: env("PREFIX") });
const authorizer = new OAuthAuthorizer({
  tokens: storeTokenStore(store, { key: env("KEY") }),
  discovery: discoveryCache({ store }),
});
// Stop with the parent.
process.on("disconnect", () => process.exit(1));
process.stdout.write("READY\n");
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
const client = new McpClient({ name: `agent-${process.pid}`, version: "1.0.0" });
try {
  await client.connect(env("MCP_URL"), { authorizer });
  const result = await client.callTool("list_notes", {});
  process.stdout.write(`RESULT ${JSON.stringify({ content: result.content })}\n`);
  await client.close();
} catch (error) {
  process.stdout.write(
    `FAILED ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
  );
}
redis.disconnect();
process.exit(0);
