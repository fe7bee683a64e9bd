-- wrk script: POST an MCP tools/call (echo) with the Streamable HTTP headers.
-- Each request gets a unique JSON-RPC id (a stateful server correlates responses by id, so
-- 50 concurrent requests on one session must not share one).
--
-- Environment (set by bench/run.ts):
--   BENCH_SESSION_ID    Mcp-Session-Id header to send (stateful runs); empty = none
--   BENCH_ID_PREFIX     prefix for the JSON-RPC ids (keeps ids unique across wrk runs)
-- No response() callback on purpose: defining one makes wrk hand every response to Lua,
-- which costs load-generator CPU.

local session = os.getenv("BENCH_SESSION_ID") or ""
local prefix = os.getenv("BENCH_ID_PREFIX") or "r"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
if session ~= "" then
  wrk.headers["Mcp-Session-Id"] = session
end

local head = '{"jsonrpc":"2.0","id":"' .. prefix
local tail = '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. counter .. tail)
end
