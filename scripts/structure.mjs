#!/usr/bin/env node
// Fails when a file in src/ is over 400 lines, or src/ has an import cycle between files, type-only imports included: a cycle is a
// cycle whether or not it survives compilation. Folder direction is Biome's job (biome.json,
// noRestrictedImports); this covers what a per-folder rule cannot see. No dependency: the
// relative specifiers are read with one regex, which is enough for our own code's style.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.tsx?$/.test(name)) out.push(path);
  }
  return out;
}

// `import … from "./x"`, `export … from "./x"`, `import "./x"` and `import("./x")`.
const specifier =
  /(?:^|[\s;}])(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']|(?:^|[\s;}])import\s*\(?\s*["'](\.[^"']+)["']/gms;

function importsOf(file) {
  const text = readFileSync(file, "utf8");
  const targets = new Set();
  for (const match of text.matchAll(specifier)) {
    const spec = match[1] ?? match[2];
    targets.add(resolve(dirname(file), spec));
  }
  return targets;
}

const files = walk(src);
const graph = new Map(files.map((file) => [file, [...importsOf(file)].filter((t) => t !== file)]));

// Tarjan's strongly connected components: any component with more than one file is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
function connect(node) {
  const entry = { index, low: index, onStack: true };
  index++;
  state.set(node, entry);
  stack.push(node);
  for (const next of graph.get(node) ?? []) {
    if (!graph.has(next)) continue;
    const seen = state.get(next);
    if (!seen) {
      connect(next);
      entry.low = Math.min(entry.low, state.get(next).low);
    } else if (seen.onStack) entry.low = Math.min(entry.low, seen.index);
  }
  if (entry.low === entry.index) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      state.get(member).onStack = false;
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component);
  }
}
for (const file of files) if (!state.has(file)) connect(file);

// No source file over 400 lines: a file that grows past it holds more than one concern.
const MAX_LINES = 400;
const long = files
  .map((file) => [file, readFileSync(file, "utf8").split("\n").length - 1])
  .filter(([, lines]) => lines > MAX_LINES);
for (const [file, lines] of long) {
  console.error(`${relative(root, file)}: ${lines} lines, over ${MAX_LINES}: split it`);
}

if (cycles.length > 0) {
  for (const component of cycles) {
    console.error(
      `import cycle: ${component
        .map((f) => relative(root, f))
        .sort()
        .join(", ")}`,
    );
  }
}
if (cycles.length > 0 || long.length > 0) process.exit(1);
console.log(
  `structure: ${files.length} files in src/, no import cycles, none over ${MAX_LINES} lines`,
);
