-- SPDX-License-Identifier: Apache-2.0
-- Methods for the RPC integration tests (lua_apps_test.py).
methods = {}

function methods.add(client, a, b)
  return a + b
end

-- Returns what it got, and what it knows of the client: AMF -> Lua -> AMF.
function methods.echo(client, ...)
  return {args = weir.array{...}, app = client.app, id = client.id, when = weir.date(1700000000000), none = weir.null}
end

function methods.fails(client)
  error("this method always fails")
end

function methods.refuses(client)
  return weir.reject("App.Refused", "not for you")
end

-- Waits, then reports whether the client is still there.
function methods.slow(client, ms)
  weir.sleep(ms or 300)
  weir.log("slow done, client open: " .. tostring(client.is_open))
  return "done"
end

-- Waits, then calls the client back and returns its answer.
function methods.callback(client, x)
  weir.sleep(50)
  local answer, err = client:call("whoami", x)
  if not answer then
    weir.log("callback: " .. err)
    return "client error: " .. err
  end
  return {answer = answer}
end

function on_connect(client, params)
  if params.args.ask then  -- asks the client before accepting it
    local answer, err = client:call("whoami", "connect")
    if not answer then return weir.reject(nil, err) end
    return weir.accept{values = {who = answer.me}}
  end
  if params.args.deny then
    return weir.reject(nil, "denied by rpc.lua")
  end
  if params.args.redirect then
    return weir.redirect("rtmp://edge2.example/live", "go to edge2")
  end
  if params.args.lifetime then
    return weir.accept{lifetime = tonumber(params.args.lifetime)}
  end
  if params.args.sleep then  -- a slow connect (the client may leave before the verdict)
    weir.sleep(tonumber(params.args.sleep))
  end
  if params.args.updates then
    return weir.accept{values = {max_updates = tonumber(params.args.updates)}}
  end
  return true
end

-- HTTP under /apps/live/ (with mod_http).
function on_http_request(request)
  if request.path == "/hello" then
    return {status = 200, body = "hello " .. (request.args.name or "?"), headers = {["x-app"] = weir.app}}
  elseif request.path == "/echo" then
    return {status = 201, content_type = "application/octet-stream", body = request.method .. ":" .. request.body}
  elseif request.path == "/slow" then
    weir.sleep(50)
    return "slept"
  elseif request.path == "/private" then
    return weir.reject("401", "who are you?")
  elseif request.path == "/broken" then
    error("broken route")
  end
  return {status = 404, body = "no " .. request.path}
end

-- A play of a name nobody publishes: "missing" falls back to "fallback".
function on_stream_not_found(client, stream)
  if stream.name == "missing" then
    return weir.accept{name = "fallback"}
  end
  return weir.reject(nil, "nothing called " .. stream.name)
end

-- Every [lua] update_interval: a client connected with ?updates=N is disconnected at the N-th.
function on_update(client)
  local n = (client:get("updates") or 0) + 1
  client:set("updates", n)
  local limit = client:get("max_updates")
  if limit and n >= limit then
    return false, "enough updates (" .. n .. ")"
  end
end

methods.updates = function(client) return client:get("updates") or 0 end
methods.who = function(client) return client:get("who") end
