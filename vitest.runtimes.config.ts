import { defineConfig } from "vitest/config";

// Bun and Deno run as child processes; vitest itself stays on Node and drives them over HTTP.
export default defineConfig({
  test: {
    include: ["test/runtimes/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
