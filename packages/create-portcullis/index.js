#!/usr/bin/env node
// `npm create portcullis [dir] -- --template node|workers`: the same scaffolder as
// `npx portcullis init`, from the portcullis package this one depends on.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const manifestPath = require.resolve("portcullis/package.json");
const { bin } = require(manifestPath);
process.argv.splice(2, 0, "init");
await import(pathToFileURL(join(dirname(manifestPath), bin.portcullis)).href);
