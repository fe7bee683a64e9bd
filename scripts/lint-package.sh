#!/usr/bin/env bash
# Lints the package as published: publint (package.json against the files shipped) and
# @arethetypeswrong/cli (the types each entry resolves to, under node16 and bundler
# resolution; ESM only, so the node10 and require() rows are not ours to pass).
# Usage: scripts/lint-package.sh [tarball]   (without one, packs a fresh tarball, building dist/)
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=${1:-}
if [[ -z "$tarball" ]]; then
  pack_dir=$(mktemp -d)
  trap 'rm -rf "$pack_dir"' EXIT
  npm pack --pack-destination "$pack_dir" --silent >/dev/null
  tarball=$(ls "$pack_dir"/*.tgz)
fi
npx publint run --strict "$tarball"
npx attw "$tarball" --profile esm-only --format table-flipped
