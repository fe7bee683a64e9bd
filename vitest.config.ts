import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Their own runners: workerd (vitest.workers.config.ts) and Bun/Deno child processes.
    exclude: ["test/workers/**", "test/runtimes/**", "**/node_modules/**"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Says whether the Redis suites run (they need REDIS_URL) or were skipped.
    globalSetup: ["test/redis/global-setup.ts"],
  },
});
