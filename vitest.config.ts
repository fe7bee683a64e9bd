import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Their own runners: workerd (vitest.workers.config.ts), Bun/Deno child processes, and the
    // packed tarball in folders of its own (vitest.consumer.config.ts).
    exclude: ["test/workers/**", "test/runtimes/**", "test/consumer/**", "**/node_modules/**"],
    // vitest's default is one worker fewer than the cores: a single one on a 2-core machine,
    // where most files wait on sockets and child processes. Two overlap those waits there
    // (test/client + test/http: 156 s with one, 105 s with two); larger machines are unchanged.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["test/**/*.test.ts"],
          exclude: ["test/otel/**"],
          // Says whether the Redis suites run (they need REDIS_URL) or were skipped.
          globalSetup: ["test/redis/global-setup.ts"],
          // A worker imports src/ once for all its files, not once per file: on a 2-core
          // machine that import was half of npm test's time (255 s isolated, 144 s shared).
          // Files hold no global state of their own; the suite also passes in shuffled order.
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: "otel",
          include: ["test/otel/**/*.test.ts"],
          // OpenTelemetry's API is process-global by design: each file registers its own SDK.
          isolate: true,
        },
      },
    ],
  },
});
