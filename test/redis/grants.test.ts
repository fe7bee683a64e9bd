import { afterAll } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { redisStore } from "../../src/redis/index.ts";
import { grantScenarios } from "../auth/grants-scenarios.ts";
import { listen } from "../helpers/http.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

const operatorToken = "operator-secret-for-the-redis-store-tests";

describeRedis("grant management on Redis", (url) => {
  afterAll(closeClients);

  grantScenarios("redisStore", async () => {
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: authorizationServer({
        store: redisStore({ client: client(url), prefix: uniquePrefix("grants") }),
        login: devLogin(),
        scopes: ["notes:read", "notes:write"],
        operatorApi: { token: operatorToken },
        rateLimits: false,
      }),
    });
    const base = (await listen(app)).replace("127.0.0.1", "localhost");
    return { base, send: (input, init) => fetch(input, init), operatorToken };
  });
});
