/**
 * Grant management in workerd over the Durable Object store: the same scenarios as on the
 * memory and Redis stores, against the demo app built with a fresh Durable Object per test.
 */
import { env } from "cloudflare:workers";
import { createDemoServer } from "../../examples/demo/server.ts";
import type { DemoEnv } from "../../examples/workers/index.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { durableObjectStore } from "../../src/cloudflare/index.ts";
import { mcpApp } from "../../src/index.ts";
import { grantScenarios } from "../auth/grants-scenarios.ts";

const bindings = env as unknown as DemoEnv;
const base = "http://localhost";
const operatorToken = "operator-secret-for-the-durable-object-tests";
let instance = 0;

grantScenarios("durableObjectStore", async () => {
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    auth: authorizationServer({
      store: durableObjectStore(bindings.PORTCULLIS_STORE, { name: `grants-${instance++}` }),
      login: devLogin(),
      // A Worker cannot tell who can reach it: the dev login needs a loopback issuer.
      issuer: base,
      scopes: ["notes:read", "notes:write"],
      secret: "workers-grants-secret-at-least-32-characters",
      operatorApi: { token: operatorToken },
      rateLimits: false,
    }),
  });
  return {
    base,
    send: (input, init) => app.fetch(new Request(input, init)),
    operatorToken,
  };
});
