// Bundles the demo Worker as `wrangler deploy` would (wrangler.toml, --dry-run) into
// .wrangler/demo-bundle/, prints what each dependency and each of our folders adds, and fails
// when the upload is over its budget: 120 KiB gzipped, measured as wrangler measures it (gzip
// at zlib's default level over every module uploaded). `npm run build:workers` runs this.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KIB = 120;
const outdir = ".wrangler/demo-bundle";
const metafile = join(outdir, "bundle-meta.json");

// A fresh directory: a module left from an earlier build would be counted.
rmSync(outdir, { recursive: true, force: true });
try {
  execFileSync(
    "npx",
    ["wrangler", "deploy", "--dry-run", "--outdir", outdir, "--metafile", metafile],
    {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    },
  );
} catch {
  console.error("wrangler could not bundle the demo Worker (its errors are above)");
  process.exit(1);
}

const modules = readdirSync(outdir).filter((name) => /\.(m?js|wasm)$/.test(name));
const code = Buffer.concat(modules.map((name) => readFileSync(join(outdir, name))));
const kib = (bytes) => (bytes / 1024).toFixed(1);
const gzipped = gzipSync(code).byteLength;

// Minified bytes by origin: an npm package, or a folder of ours (src/auth, examples/demo ...).
const origin = (path) =>
  path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ??
  path.match(/(?:^|\/)((?:src|examples)\/[^/]+)\//)?.[1] ??
  path;
const bytes = new Map();
const { outputs } = JSON.parse(readFileSync(metafile, "utf8"));
for (const output of Object.values(outputs)) {
  for (const [path, input] of Object.entries(output.inputs)) {
    bytes.set(origin(path), (bytes.get(origin(path)) ?? 0) + input.bytesInOutput);
  }
}
const total = [...bytes.values()].reduce((sum, n) => sum + n, 0);
console.log("KiB minified  share  origin");
for (const [name, size] of [...bytes].sort((a, b) => b[1] - a[1])) {
  console.log(
    `${kib(size).padStart(12)}  ${((100 * size) / total).toFixed(0).padStart(4)}%  ${name}`,
  );
}
const verdict = gzipped <= BUDGET_KIB * 1024 ? "within" : "OVER";
console.log(
  `demo Worker: ${kib(code.byteLength)} KiB, ${kib(gzipped)} KiB gzipped: ${verdict} the ${BUDGET_KIB} KiB budget`,
);
if (verdict === "OVER") {
  console.error(
    "The Worker bundle grew past its budget: see what each origin adds above; README, Bundle size.",
  );
  process.exit(1);
}
