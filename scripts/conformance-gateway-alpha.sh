#!/usr/bin/env bash
# Run the official MCP conformance suite 0.2.0-alpha (scripts/conformance-alpha.sh: 2025-11-25
# and 2026-07-28, the tasks extension included) against the gateway in front of the project's
# conformance server: examples/conformance-gateway.ts starts examples/conformance-server.ts
# over stdio as its one upstream, published without a namespace.
# The Skills extension scenarios (sep-2640-*) run too: the gateway forwards Skills of an
# upstream published without a namespace.
#
# Usage: scripts/conformance-gateway-alpha.sh      (from anywhere)
# Env: as scripts/conformance-alpha.sh, plus
#   CONFORMANCE_GATEWAY_UPSTREAM   "stdio" (default) or "http": how the gateway reaches the server
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONFORMANCE_SERVER_ENTRY="${CONFORMANCE_SERVER_ENTRY:-examples/conformance-gateway.ts}"
export CONFORMANCE_ALPHA_RESULTS_DIR="${CONFORMANCE_ALPHA_RESULTS_DIR:-$ROOT/conformance/alpha/gateway-results}"
exec "$ROOT/scripts/conformance-alpha.sh" "$@"
