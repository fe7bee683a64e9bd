import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { build } from "esbuild";
import { exportJWK, generateKeyPair } from "jose";
import { defineConfig } from "vitest/config";

// A developer's own .env (which `wrangler dev` reads) must not change what the tests run.
process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV = "false";

// A signing key made for this run and handed to the Worker as the SIGNING_KEY secret, so the
// tests can check that the Worker signs with configured keys rather than generated ones.
const { privateKey } = await generateKeyPair("ES256", { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: "workers-test-key", alg: "ES256" };

// The gateway's upstream in test/workers/gateway.test.ts: an MCP server deployed as a Worker of
// its own. The pool runs only the main module through Vite, so this one is bundled here.
const upstreamScript = ".wrangler/tmp/mcp-upstream.mjs";
await build({
  entryPoints: ["test/workers/upstream-worker.ts"],
  outfile: upstreamScript,
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  logLevel: "warning",
});

export default defineConfig({
  plugins: [
    cloudflareTest({
      // The demo Worker plus queue() consumers for the tests (the demo itself has none).
      main: "./test/workers/queue-main.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // A second Worker, reached only through the UPSTREAM service binding (as a deployed
        // gateway would reach an MCP server Worker bound with [[services]]).
        workers: [
          {
            name: "mcp-upstream",
            modules: true,
            scriptPath: upstreamScript,
            compatibilityDate: "2026-04-20",
          },
        ],
        serviceBindings: { UPSTREAM: "mcp-upstream" },
        // The gateway in a Durable Object (test/workers/gateway-worker.ts), for what spans
        // requests: an upstream's questions to the caller.
        durableObjects: { GATEWAY_OBJECT: "GatewayObject" },
        bindings: {
          AUTH_SECRET: "workers-test-secret-at-least-32-characters",
          SIGNING_KEY: JSON.stringify(signingKey),
          // Strictly single-use refresh tokens, so a racing duplicate must fail (see the test).
          REFRESH_GRACE_MS: "0",
          // Stateless, as deployed by default; test/workers/sessions.test.ts switches it on.
          MCP_STATEFUL: "false",
          // The tests' origin: a Worker cannot tell where it listens, so the dev login runs
          // only on a configured loopback issuer (as under `npm run dev:workers`).
          ISSUER: "http://localhost",
        },
        // Local Queues (test/workers/queues*.test.ts, queue-delivery.test.ts), here and not in
        // wrangler.toml so that deploying the demo needs no queues. queues.test.ts hands batches
        // to the consumer itself; queue-delivery.test.ts sends to MCP_REQUESTS and the runtime
        // delivers to test/workers/queue-main.ts, which answers on MCP_ANSWERS.
        queueProducers: {
          MCP_REPLIES: "mcp-replies",
          MCP_DEAD: "mcp-dead",
          MCP_REQUESTS: "mcp-requests",
          MCP_ANSWERS: "mcp-answers",
        },
        // A short batch window, so delivery is prompt (the test polls, it does not sleep).
        queueConsumers: {
          "mcp-requests": { maxBatchSize: 10, maxBatchTimeout: 0.05, maxRetries: 2 },
          "mcp-answers": { maxBatchSize: 10, maxBatchTimeout: 0.05, maxRetries: 2 },
        },
      },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
