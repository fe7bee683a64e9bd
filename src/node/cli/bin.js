#!/usr/bin/env node
// The `portcullis` command. The package ships TypeScript, so this launcher loads it through
// tsx when tsx is installed, else through Node's own type stripping (Node 22.6 and later).
import process from "node:process";

try {
  const { register } = await import("tsx/esm/api");
  register();
} catch (error) {
  const missing = error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "MODULE_NOT_FOUND";
  if (!missing) throw error;
  if (!process.features?.typescript) {
    process.stderr.write(
      "portcullis: install tsx (npm install tsx), or use Node 22.6+ with type stripping\n",
    );
    process.exit(1);
  }
}

const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
