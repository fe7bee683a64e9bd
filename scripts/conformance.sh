#!/usr/bin/env bash
# Run the official MCP conformance suite (server side, --suite all) against
# examples/conformance-server.ts and fail on any FAILURE *or* WARNING.
#
# Usage: scripts/conformance.sh            (from anywhere)
# Env:
#   PORT                      port for the server (default: a free port picked here)
#   CONFORMANCE_SERVER_ENTRY  server entry file (default: examples/conformance-server.ts);
#                             always started as `node --import tsx <entry>` so that $! is node itself
#   CONFORMANCE_SUITE         suite to run (default: all)
#   CONFORMANCE_SCENARIO      run one scenario instead of a suite
#   CONFORMANCE_RESULTS_DIR   where checks.json files go (default: conformance/results)
#   CONFORMANCE_TIMEOUT       seconds allowed for the whole suite run (default: 600)
#   CONFORMANCE_STARTUP_TIMEOUT seconds to wait for the server to answer (default: 30)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONF_DIR="$ROOT/conformance"
CONF_NODE="$CONF_DIR/node_modules/.bin/node"          # Node 22 (the CLI needs fs.globSync)
CONF_CLI="$CONF_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"
CONF_VERSION="0.1.16"
ENTRY="${CONFORMANCE_SERVER_ENTRY:-examples/conformance-server.ts}"
SUITE="${CONFORMANCE_SUITE:-all}"
RESULTS_DIR="${CONFORMANCE_RESULTS_DIR:-$CONF_DIR/results}"
RUN_TIMEOUT="${CONFORMANCE_TIMEOUT:-600}"
STARTUP_TIMEOUT="${CONFORMANCE_STARTUP_TIMEOUT:-30}"
SERVER_LOG="$RESULTS_DIR/server.log"

log() { printf '[conformance] %s\n' "$*"; }
die() { printf '[conformance] ERROR: %s\n' "$*" >&2; exit 1; }

# --- (a) toolchain: pinned node@22 + @modelcontextprotocol/conformance from conformance/package-lock.json
installed_ok() {
  [[ -x "$CONF_NODE" && -f "$CONF_CLI" ]] || return 1
  [[ "$("$CONF_NODE" -v 2>/dev/null)" == v22.* ]] || return 1
  [[ "$("$CONF_NODE" -p "require('$CONF_DIR/node_modules/@modelcontextprotocol/conformance/package.json').version" 2>/dev/null)" == "$CONF_VERSION" ]]
}
if ! installed_ok; then
  log "installing conformance toolchain into conformance/node_modules (npm ci)"
  (cd "$CONF_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  installed_ok || die "conformance toolchain still missing after npm ci"
fi
[[ -f "$ENTRY" ]] || die "server entry not found: $ENTRY"
[[ -d "$ROOT/node_modules/tsx" ]] || die "tsx not installed in $ROOT/node_modules (run npm ci at the repo root)"

# --- (b) start the server: node itself, bound to 127.0.0.1
if [[ -z "${PORT:-}" ]]; then
  PORT="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
fi
export PORT
case "$RESULTS_DIR" in ""|/|"$ROOT"|"$HOME") die "refusing to use results dir '$RESULTS_DIR'";; esac
rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"

SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server $SERVER_PID ignored SIGTERM; sending SIGKILL"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting: PORT=$PORT node --import tsx $ENTRY (log: $SERVER_LOG)"
HOST=127.0.0.1 node --import tsx "$ENTRY" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq 1 $((STARTUP_TIMEOUT * 5))); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$SERVER_LOG" >&2 || true
    die "server exited during startup"
  fi
  # Any HTTP status (even 4xx/405) means the listener is up.
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/mcp" || true)"
  if [[ -n "$code" && "$code" != "000" ]]; then ready=1; break; fi
  sleep 0.2
done
if [[ "$ready" != 1 ]]; then
  cat "$SERVER_LOG" >&2 || true
  die "server did not answer on 127.0.0.1:$PORT within ${STARTUP_TIMEOUT}s"
fi
log "server ready (pid $SERVER_PID: $(ps -o comm= -p "$SERVER_PID" 2>/dev/null || echo "?"))"

# --- (c) run the suite. An empty expected-failures baseline makes the CLI itself exit 1 on any
# scenario with a FAILURE *or* a WARNING check (plain runs only count FAILUREs).
BASELINE="$RESULTS_DIR/empty-baseline.yml"
printf 'server: []\n' >"$BASELINE"
if [[ -n "${CONFORMANCE_SCENARIO:-}" ]]; then
  SELECT=(--scenario "$CONFORMANCE_SCENARIO")
  EXPECTED_RUNS=1
else
  SELECT=(--suite "$SUITE")
  EXPECTED_RUNS=""
fi
URL="http://localhost:$PORT/mcp"
log "running: conformance server --url $URL ${SELECT[*]} -o $RESULTS_DIR --expected-failures $BASELINE"
set +e
timeout "$RUN_TIMEOUT" "$CONF_NODE" "$CONF_CLI" server --url "$URL" "${SELECT[@]}" \
  -o "$RESULTS_DIR" --expected-failures "$BASELINE" 2>&1 | tee "$RESULTS_DIR/cli-output.txt"
cli_rc=${PIPESTATUS[0]}
set -e
[[ "$cli_rc" == 124 ]] && log "conformance CLI timed out after ${RUN_TIMEOUT}s"

# --- (d) independent verdict from the checks.json files (suite mode prints no per-check lines,
# so WARNINGs are otherwise invisible). Lists every FAILURE/WARNING check.
set +e
"$CONF_NODE" - "$RESULTS_DIR" "$SUITE" "${EXPECTED_RUNS}" "$CONF_DIR" <<'JS'
const fs = require('fs'), path = require('path');
const [dir, suite, expectedRunsArg, confDir] = process.argv.slice(2);
let expected = Number(expectedRunsArg) || 0;
if (!expected) {
  const out = require('child_process').execFileSync(process.execPath,
    [path.join(confDir, 'node_modules/@modelcontextprotocol/conformance/dist/index.js'), 'list', '--server'], { encoding: 'utf8' });
  expected = suite === 'all' ? out.split('\n').filter((l) => l.startsWith('  - ')).length : 0;
}
const runs = fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'checks.json'))).sort();
let bad = 0, passedScenarios = 0, failedScenarios = 0, checksRun = 0;
for (const d of runs) {
  const scenario = d.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
  const checks = JSON.parse(fs.readFileSync(path.join(dir, d, 'checks.json'), 'utf8'));
  const problems = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
  const succeeded = checks.filter((c) => c.status === 'SUCCESS').length;
  // A scenario that ran no check did not pass.
  if (succeeded === 0) { console.log(`  NO CHECKS ${scenario}: the scenario ran no check, so it did not pass`); bad++; }
  if (problems.length || succeeded === 0) { failedScenarios++; bad += problems.length; } else passedScenarios++;
  checksRun += checks.length;
  for (const c of problems) console.log(`  ${c.status.padEnd(7)} ${scenario} [${c.id}] ${c.description}${c.errorMessage ? ` -- ${c.errorMessage}` : ''}`);
}
let missing = false;
if (expected && runs.length !== expected) { missing = true; console.log(`  expected ${expected} scenario result(s), found ${runs.length}`); }
console.log(`conformance: ${passedScenarios} passed, ${failedScenarios + (missing ? Math.max(expected - runs.length, 1) : 0)} failed (${checksRun} checks run)`);
process.exit(bad || missing ? 1 : 0);
JS
verdict_rc=$?
set -e

if [[ "$cli_rc" != 0 || "$verdict_rc" != 0 ]]; then
  log "FAILED (cli exit $cli_rc, verdict exit $verdict_rc); results in $RESULTS_DIR"
  exit 1
fi
log "all scenarios passed with no warnings"
