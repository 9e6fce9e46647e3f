-- SPDX-License-Identifier: Apache-2.0
-- on_server_start, on_no_readers and weir.http over https, for lua_apps_test.py.

-- Once per server start (not per group, not at a reload); it may wait, here for a backend.
function on_server_start(app)
  local n = weir.count("starts", 1)
  weir.log("server start of " .. app.name .. " #" .. n)
  if weir.env.backend then
    local reply, err = weir.http(weir.env.backend .. "/started")
    weir.log("backend at start: " .. (reply and (reply.status .. " " .. reply.body) or err))
  end
end

-- The last player of a stream left: a stream called "pull*" is dropped (as an edge would stop a pull).
function on_no_readers(client, stream)
  weir.log("no readers of " .. stream.app .. "/" .. stream.name)
  if stream.name:sub(1, 4) == "pull" then client:close("nobody watches " .. stream.name) end
end

function on_http_request(request)
  if request.path == "/starts" then
    return tostring(weir.count("starts", 0))
  elseif request.path == "/fetch" then
    local reply, err = weir.http(request.args.url)
    if not reply then return {status = 502, body = err} end
    return reply.status .. " " .. reply.body
  end
  return {status = 404, body = "no " .. request.path}
end
