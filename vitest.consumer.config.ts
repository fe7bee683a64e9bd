import { defineConfig } from "vitest/config";

// The packed tarball, installed into fresh folders outside the repository and used there as
// a user would: plain JS on Node 20 and 22, TypeScript, Bun, Deno, and a Worker of their own.
export default defineConfig({
  test: {
    include: ["test/consumer/**/*.test.ts"],
    globalSetup: ["test/consumer/global-setup.ts"],
    // Most of the time is spent waiting on child processes (tsc, wrangler, servers): two files
    // at once overlap that waiting even on two cores.
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
