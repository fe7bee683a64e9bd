/**
 * The installed declarations in a user's strict TypeScript project: the README quick start
 * under NodeNext and under Bundler resolution, and the runtime-neutral entries without Node's
 * types. skipLibCheck is off, so portcullis's .d.ts are checked under the user's flags; the
 * program must hold them and never a .ts source of ours.
 */
import { describe, inject, it } from "vitest";
import { ROOT, run } from "./support.ts";

const { app } = inject("consumer");
const tsc = `${ROOT}/node_modules/typescript/bin/tsc`;

// One tsc process per project, run side by side: each is single-threaded.
describe.concurrent("a user's strict TypeScript project", () => {
  it.for([
    { config: "tsconfig.nodenext.json", entry: "dist/node/index.d.ts" },
    { config: "tsconfig.bundler.json", entry: "dist/node/index.d.ts" },
    { config: "tsconfig.web.json", entry: "dist/auth/index.d.ts" },
  ])(
    "tsc -p $config typechecks against the shipped declarations only",
    async ({ config, entry }, { expect }) => {
      const args = [tsc, "-p", config, "--listFiles", "--pretty", "false"];
      const result = await run(process.execPath, args, { cwd: app });
      const errors = result.stdout.split("\n").filter((line) => /error TS\d+/.test(line));
      expect(errors).toEqual([]);
      expect(result.code).toBe(0);
      const ours = result.stdout
        .split("\n")
        .filter((line) => line.includes("/node_modules/portcullis/"));
      expect(ours).toContainEqual(expect.stringContaining(`/node_modules/portcullis/${entry}`));
      expect(ours.every((file) => file.endsWith(".d.ts"))).toBe(true);
    },
  );
});
