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

-- Waits, then calls the client back and returns its answer.
function methods.callback(client, x)
  weir.sleep(50)
  local answer, err = client:call("whoami", x)
  if not answer then return "client error: " .. err end
  return {answer = answer}
end

function on_connect(client, params)
  if params.args.deny then
    return weir.reject(nil, "denied by rpc.lua")
  end
  if params.args.lifetime then
    return weir.accept{lifetime = tonumber(params.args.lifetime)}
  end
  return true
end
