#!/usr/bin/env bash
# Run the official MCP conformance suite 0.2.0-alpha (scripts/conformance-alpha.sh: 2025-11-25
# and 2026-07-28, the tasks extension included) against the gateway in front of the project's
# conformance server: examples/conformance-gateway.ts starts examples/conformance-server.ts
# over stdio as its one upstream, published without a namespace.
#
# The Skills extension scenarios (sep-2640-*) are not run: the gateway does not forward the
# Skills extension (it publishes an upstream's tools, prompts and resources, not its skills),
# so they would only report that the extension is not declared. notes/gwalpha.md says more.
#
# Usage: scripts/conformance-gateway-alpha.sh      (from anywhere)
# Env: as scripts/conformance-alpha.sh, plus
#   CONFORMANCE_GATEWAY_UPSTREAM   "stdio" (default) or "http": how the gateway reaches the server
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONFORMANCE_SERVER_ENTRY="${CONFORMANCE_SERVER_ENTRY:-examples/conformance-gateway.ts}"
export CONFORMANCE_ALPHA_RESULTS_DIR="${CONFORMANCE_ALPHA_RESULTS_DIR:-$ROOT/conformance/alpha/gateway-results}"
export CONFORMANCE_ALPHA_SKIP_EXTENSIONS="${CONFORMANCE_ALPHA_SKIP_EXTENSIONS-sep-2640-skills-directory sep-2640-skills-enumeration sep-2640-skills-manifest}"
exec "$ROOT/scripts/conformance-alpha.sh" "$@"
