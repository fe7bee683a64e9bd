-- wrk script: POST an MCP tools/call (echo) with the Streamable HTTP headers.
-- Each request gets a unique JSON-RPC id (a stateful server correlates responses by id, so
-- 50 concurrent requests on one session must not share one).
--
-- Environment (set by bench/run.ts):
--   BENCH_SESSION_ID    Mcp-Session-Id header to send (stateful runs); empty = none
--   BENCH_ID_PREFIX     prefix for the JSON-RPC ids (keeps ids unique across wrk runs)
--   BENCH_PROTOCOL      protocol revision; 2026-07-28 sends the per-request _meta envelope
--                       and the Mcp-Method / Mcp-Name headers. Default 2025-11-25
--   BENCH_AUTHORIZATION Authorization header to send; empty = none
-- No response() callback on purpose: defining one makes wrk hand every response to Lua,
-- which costs load-generator CPU.

local session = os.getenv("BENCH_SESSION_ID") or ""
local prefix = os.getenv("BENCH_ID_PREFIX") or "r"
local protocol = os.getenv("BENCH_PROTOCOL") or ""
if protocol == "" then protocol = "2025-11-25" end
local authorization = os.getenv("BENCH_AUTHORIZATION") or ""

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = protocol
if session ~= "" then
  wrk.headers["Mcp-Session-Id"] = session
end
if authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local head = '{"jsonrpc":"2.0","id":"' .. prefix
local tail = '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
if protocol == "2026-07-28" then
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = "echo"
  tail = '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},'
    .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
    .. '"io.modelcontextprotocol/clientInfo":{"name":"portcullis-bench","version":"1.0.0"},'
    .. '"io.modelcontextprotocol/clientCapabilities":{}}}}'
end
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. counter .. tail)
end
