#!/usr/bin/env node
// The `portcullis` command: compiled to dist/node/cli/bin.js, which plain Node runs.
import process from "node:process";
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
