#!/usr/bin/env bash
# Run the official MCP conformance suite (scripts/conformance.sh, 0.1.16, --suite all) against
# the gateway in front of the project's conformance server: examples/conformance-gateway.ts
# starts examples/conformance-server.ts over stdio as its one upstream, published without a
# namespace, and the suite talks to the gateway's endpoint only.
#
# Usage: scripts/conformance-gateway.sh      (from anywhere)
# Env: as scripts/conformance.sh, plus
#   CONFORMANCE_GATEWAY_UPSTREAM   "stdio" (default) or "http": how the gateway reaches the server
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONFORMANCE_SERVER_ENTRY="${CONFORMANCE_SERVER_ENTRY:-examples/conformance-gateway.ts}"
export CONFORMANCE_RESULTS_DIR="${CONFORMANCE_RESULTS_DIR:-$ROOT/conformance/gateway-results}"
exec "$ROOT/scripts/conformance.sh" "$@"
