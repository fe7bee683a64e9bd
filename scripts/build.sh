#!/usr/bin/env bash
# Compiles src/ into dist/: ESM .js with source maps, .d.ts with declaration maps, one output
# module per source module (so bundlers shake what a user does not import), the JSX of the
# auth pages on hono/jsx's automatic runtime, and the `portcullis` bin. `npm pack` runs this
# (prepack), so a tarball always ships fresh output. Type errors are `npm run typecheck`'s job
# (CI runs it): the build skips checking (--noCheck), which halves its time, same output.
set -euo pipefail
cd "$(dirname "$0")/.."

# src/cloudflare compiles against the Workers runtime types (DurableObject, SqlStorage ...),
# which wrangler generates offline for wrangler.toml's compatibility date. Generated once, and
# again when that date changes.
runtime_types=.wrangler/types/runtime.d.ts
compat_date=$(sed -n 's/^compatibility_date *= *"\([^"]*\)".*/\1/p' wrangler.toml)
if ! head -n 3 "$runtime_types" 2>/dev/null | grep -q " $compat_date"; then
  mkdir -p .wrangler/types
  WRANGLER_SEND_METRICS=false npx wrangler types --include-env=false "$runtime_types" >/dev/null
fi

rm -rf dist
npx tsc -p tsconfig.build.json --noCheck
chmod +x dist/node/cli/bin.js
