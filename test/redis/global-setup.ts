/**
 * Says plainly, once per run, whether the Redis suites (test/redis) run: they need REDIS_URL.
 * Locally they are skipped without it; in CI (CI=true) and under `npm run test:redis` they
 * fail instead (see describeRedis in support.ts).
 */
export default function setup(): () => void {
  const required =
    process.env.CI === "true" ||
    process.env.CI === "1" ||
    process.env.PORTCULLIS_REQUIRE_REDIS === "1";
  const url = process.env.REDIS_URL;
  const note = url
    ? `Redis suites (test/redis): running against ${url}`
    : required
      ? "Redis suites (test/redis): REDIS_URL is not set, and they are required here: they FAIL"
      : "Redis suites (test/redis): SKIPPED, REDIS_URL is not set (REDIS_URL=redis://127.0.0.1:6379 npm test, or npm run test:redis)";
  console.log(`\n${note}\n`);
  return () => {
    if (!url && !required) console.log(`\n${note}\n`);
  };
}
