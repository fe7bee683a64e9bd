#!/usr/bin/env bash
# Run the official MCP conformance suite's authorization-server scenarios
# (`conformance authorization`, @modelcontextprotocol/conformance 0.2.0-alpha) against
# examples/conformance-auth-server.ts, and fail on any FAILURE, WARNING or SKIPPED check.
#
# The suite has no browser: its authorization-code-grant scenario prints an authorization URL
# and waits (up to 5 minutes) for a request on its own loopback callback. This script plays
# the user agent: it watches the CLI's output for that URL, follows our redirects, submits the
# HTML form it is shown (consent: Allow), and delivers the final redirect to the callback. It
# visits nothing but the server under test and the suite's callback.
#
# Usage: scripts/conformance-auth.sh            (from anywhere)
# Env:
#   PORT                            port for the server (default: a free port picked here)
#   CONFORMANCE_AUTH_CALLBACK_PORT  port for the suite's callback listener (default: a free port)
#   CONFORMANCE_AUTH_SERVER_ENTRY   server entry (default: examples/conformance-auth-server.ts);
#                                   always started as `node --import tsx <entry>` so that $! is node
#   CONFORMANCE_AUTH_CLIENT_ID      pre-registered public client (default: conformance-client)
#   CONFORMANCE_AUTH_SPEC_VERSION   pass --spec-version to the suite (default: none, i.e. all)
#   CONFORMANCE_AUTH_RESULTS_DIR    where checks.json files go (default: conformance/alpha/results)
#   CONFORMANCE_AUTH_TIMEOUT        seconds allowed for the whole suite run (default: 300)
#   CONFORMANCE_STARTUP_TIMEOUT     seconds to wait for the server to answer (default: 30)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONF_DIR="$ROOT/conformance/alpha"
CONF_NODE="$CONF_DIR/node_modules/.bin/node"          # Node 22, pinned in conformance/alpha
CONF_PKG="$CONF_DIR/node_modules/@modelcontextprotocol/conformance"
CONF_CLI="$CONF_PKG/dist/index.js"
CONF_VERSION="$(node -p "require('$CONF_DIR/package.json').dependencies['@modelcontextprotocol/conformance']")"
ENTRY="${CONFORMANCE_AUTH_SERVER_ENTRY:-examples/conformance-auth-server.ts}"
CLIENT_ID="${CONFORMANCE_AUTH_CLIENT_ID:-conformance-client}"
RESULTS_DIR="${CONFORMANCE_AUTH_RESULTS_DIR:-$CONF_DIR/results}"
RUN_TIMEOUT="${CONFORMANCE_AUTH_TIMEOUT:-300}"
STARTUP_TIMEOUT="${CONFORMANCE_STARTUP_TIMEOUT:-30}"
SERVER_LOG="$RESULTS_DIR/server.log"

log() { printf '[conformance-auth] %s\n' "$*"; }
die() { printf '[conformance-auth] ERROR: %s\n' "$*" >&2; exit 1; }

# --- (a) toolchain: pinned node@22 + the alpha suite from conformance/alpha/package-lock.json
installed_ok() {
  [[ -x "$CONF_NODE" && -f "$CONF_CLI" ]] || return 1
  [[ "$("$CONF_NODE" -v 2>/dev/null)" == v22.* ]] || return 1
  [[ "$("$CONF_NODE" -p "require('$CONF_PKG/package.json').version" 2>/dev/null)" == "$CONF_VERSION" ]]
}
if ! installed_ok; then
  log "installing the conformance $CONF_VERSION toolchain into conformance/alpha/node_modules (npm ci)"
  (cd "$CONF_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  installed_ok || die "conformance toolchain still missing after npm ci"
fi
[[ -f "$ENTRY" ]] || die "server entry not found: $ENTRY"
[[ -d "$ROOT/node_modules/tsx" ]] || die "tsx not installed in $ROOT/node_modules (run npm ci at the repo root)"

# --- (b) start the server: node itself, bound to 127.0.0.1
# Two distinct free ports, held open together so they cannot be the same one.
read -r FREE_A FREE_B < <(node -e "
const net = require('net'); const a = net.createServer(), b = net.createServer();
a.listen(0, '127.0.0.1', () => b.listen(0, '127.0.0.1', () => {
  console.log(a.address().port, b.address().port); a.close(); b.close();
}));")
PORT="${PORT:-$FREE_A}"
CALLBACK_PORT="${CONFORMANCE_AUTH_CALLBACK_PORT:-$FREE_B}"
[[ "$PORT" != "$CALLBACK_PORT" ]] || die "PORT and CONFORMANCE_AUTH_CALLBACK_PORT must differ"
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

ISSUER="http://127.0.0.1:$PORT"
ready=0
for _ in $(seq 1 $((STARTUP_TIMEOUT * 5))); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$SERVER_LOG" >&2 || true
    die "server exited during startup"
  fi
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$ISSUER/.well-known/oauth-authorization-server" || true)"
  if [[ "$code" == 200 ]]; then ready=1; break; fi
  sleep 0.2
done
if [[ "$ready" != 1 ]]; then
  cat "$SERVER_LOG" >&2 || true
  die "server did not serve its metadata on 127.0.0.1:$PORT within ${STARTUP_TIMEOUT}s"
fi
log "server ready (pid $SERVER_PID: $(ps -o comm= -p "$SERVER_PID" 2>/dev/null || echo "?"))"

# --- (c) run every authorization-server scenario in one CLI run (the code-grant scenario
# reads the metadata the first scenario fetched, so --scenario alone cannot run it).
ARGS=(authorization --url "$ISSUER" --client-id "$CLIENT_ID" --resource "$ISSUER/mcp"
  --port "$CALLBACK_PORT" -o "$RESULTS_DIR")
[[ -n "${CONFORMANCE_AUTH_SPEC_VERSION:-}" ]] && ARGS+=(--spec-version "$CONFORMANCE_AUTH_SPEC_VERSION")
log "running: conformance ${ARGS[*]}"
set +e
timeout "$RUN_TIMEOUT" "$CONF_NODE" - "$CONF_CLI" "$ISSUER" "$CALLBACK_PORT" "${ARGS[@]}" <<'JS' 2>&1 | tee "$RESULTS_DIR/cli-output.txt"
// Runs the CLI and acts as the user's browser for the authorization URL it prints.
const { spawn } = require('child_process');
const [cli, issuer, callbackPort, ...args] = process.argv.slice(2);
const callbackOrigin = `http://127.0.0.1:${callbackPort}`;
const allowed = new Set([new URL(issuer).origin, callbackOrigin]);
const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
child.stderr.pipe(process.stderr);
const say = (text) => process.stdout.write(`[browser] ${text}\n`);
const cookies = new Map();
const decode = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

async function visit(url, init = {}) {
  if (!allowed.has(url.origin)) throw new Error(`refusing to visit ${url.origin}`);
  const headers = new Headers(init.headers);
  if (cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const c of response.headers.getSetCookie()) {
    const pair = c.split(';')[0]; const eq = pair.indexOf('=');
    cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return response;
}

async function browse(start) {
  let url = new URL(start);
  let init = {};
  for (let step = 0; step < 10; step++) {
    if (url.origin === callbackOrigin) {
      for (let attempt = 0; ; attempt++) {
        try { await visit(url); say(`delivered the authorization response to ${url.origin}${url.pathname}`); return; }
        catch (error) { if (attempt >= 20) throw error; await new Promise((r) => setTimeout(r, 100)); }
      }
    }
    const response = await visit(url, init);
    say(`${init.method ?? 'GET'} ${url.origin}${url.pathname} -> ${response.status}`);
    init = {};
    if (response.status === 302 || response.status === 303) {
      url = new URL(response.headers.get('location'), url);
      continue;
    }
    const html = response.status === 200 ? await response.text() : '';
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`expected a redirect or a form, got ${response.status}`);
    // Submit the page's form as a user would: hidden fields as given, and "Allow" on consent.
    const form = new URLSearchParams();
    for (const m of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) form.set(m[1], decode(m[2]));
    if (/name="decision"/.test(html)) form.set('decision', 'allow');
    url = new URL(decode(action), url);
    init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
  }
  throw new Error('too many steps');
}

let pending = '';
const authorizePrefix = `${issuer}/authorize?`;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line.startsWith(authorizePrefix)) {
      browse(line).catch((error) => {
        say(`FAILED: ${error.message}; stopping the suite (it would wait 5 minutes)`);
        child.kill('SIGTERM');
      });
    }
  }
});
// 'close' comes after the child's output is drained. A timeout stops the CLI too, so its
// callback listener does not outlive the run.
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
process.on('SIGTERM', () => { child.kill('SIGTERM'); process.exit(124); });
JS
cli_rc=${PIPESTATUS[0]}
set -e
[[ "$cli_rc" == 124 ]] && log "conformance CLI timed out after ${RUN_TIMEOUT}s"

# --- (d) independent verdict from the checks.json files: a scenario passes only with at
# least one SUCCESS and no FAILURE, WARNING or SKIPPED check (the CLI's exit code ignores
# warnings and skips). Every scenario `list --authorization` names must have a result.
set +e
"$CONF_NODE" - "$RESULTS_DIR" "$CONF_CLI" "${CONFORMANCE_AUTH_SPEC_VERSION:-}" <<'JS'
const fs = require('fs'), path = require('path');
const [dir, cli, specVersion] = process.argv.slice(2);
const listArgs = [cli, 'list', '--authorization', ...(specVersion ? ['--spec-version', specVersion] : [])];
const listed = require('child_process').execFileSync(process.execPath, listArgs, { encoding: 'utf8' });
const expected = listed.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.slice(4).split(' ')[0]);
const runs = fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'checks.json'))).sort();
let passed = 0, failed = 0;
const seen = new Set();
for (const d of runs) {
  const scenario = d.replace(/^authorization-server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
  seen.add(scenario);
  const checks = JSON.parse(fs.readFileSync(path.join(dir, d, 'checks.json'), 'utf8'));
  const problems = checks.filter((c) => ['FAILURE', 'WARNING', 'SKIPPED'].includes(c.status));
  const ok = problems.length === 0 && checks.some((c) => c.status === 'SUCCESS');
  if (ok) passed++; else failed++;
  console.log(`  ${ok ? 'PASS' : 'FAIL'} ${scenario}: ${checks.map((c) => `${c.id}=${c.status}`).join(', ')}`);
  for (const c of problems) console.log(`    ${c.status.padEnd(7)} [${c.id}] ${c.description}${c.errorMessage ? ` -- ${c.errorMessage}` : ''}`);
}
const missing = expected.filter((name) => !seen.has(name));
for (const name of missing) console.log(`  FAIL ${name}: no result`);
failed += missing.length;
console.log(`conformance-auth: ${passed} passed, ${failed} failed`);
process.exit(failed || !expected.length ? 1 : 0);
JS
verdict_rc=$?
set -e

if [[ "$cli_rc" != 0 || "$verdict_rc" != 0 ]]; then
  log "FAILED (cli exit $cli_rc, verdict exit $verdict_rc); results in $RESULTS_DIR"
  exit 1
fi
log "all authorization-server scenarios passed with no warnings"
