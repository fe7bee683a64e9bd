import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { exportJWK, generateKeyPair } from "jose";
import { defineConfig } from "vitest/config";

// A developer's own .env (which `wrangler dev` reads) must not change what the tests run.
process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV = "false";

// A signing key made for this run and handed to the Worker as the SIGNING_KEY secret, so the
// tests can check that the Worker signs with configured keys rather than generated ones.
const { privateKey } = await generateKeyPair("ES256", { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: "workers-test-key", alg: "ES256" };

export default defineConfig({
  plugins: [
    cloudflareTest({
      main: "./examples/workers/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
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
        // Local Queues (test/workers/queues.test.ts): producers only here, so that deploying
        // the demo (wrangler.toml) needs no queues; the tests hand batches to the consumer.
        queueProducers: { MCP_REPLIES: "mcp-replies", MCP_DEAD: "mcp-dead" },
      },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
