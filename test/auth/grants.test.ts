import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { listen } from "../helpers/http.ts";
import { grantScenarios } from "./grants-scenarios.ts";

const operatorToken = "operator-secret-for-the-memory-store-tests";

grantScenarios("memoryStore", async () => {
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    auth: authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      scopes: ["notes:read", "notes:write"],
      operatorApi: { token: operatorToken },
      rateLimits: false,
    }),
  });
  const base = (await listen(app)).replace("127.0.0.1", "localhost");
  return { base, send: (input, init) => fetch(input, init), operatorToken };
});
