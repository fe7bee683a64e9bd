import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Their own runners: workerd (vitest.workers.config.ts), Bun/Deno child processes, and the
    // packed tarball in folders of its own (vitest.consumer.config.ts).
    exclude: ["test/workers/**", "test/runtimes/**", "test/consumer/**", "**/node_modules/**"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Says whether the Redis suites run (they need REDIS_URL) or were skipped.
    globalSetup: ["test/redis/global-setup.ts"],
  },
});
