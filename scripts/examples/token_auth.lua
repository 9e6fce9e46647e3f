-- SPDX-License-Identifier: Apache-2.0
-- Token auth for publish and play: rtmp://host/live/cam1?token=... is checked against a secret,
-- or asked of an HTTP backend. In weir.conf:
--   [lua]
--   app.live = examples/token_auth.lua
--   env.secret = s3cret                          ; tokens equal to this pass, or:
--   env.auth_url = http://127.0.0.1:8080/auth     ; POST action, app, name, token: 200 = allowed
-- Without a token, or with a wrong one, the client sees NetStream.Publish.Denied or
-- NetStream.Play.Failed. If the backend cannot be reached the request is refused (fail closed).

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function check(client, stream, action)
  local token = stream.args.token
  if not token or token == "" then
    return weir.reject(nil, "a token is required (?token=...)")
  end
  local url = weir.env.auth_url
  if url then
    local body = "action=" .. action .. "&app=" .. urlencode(stream.app) .. "&name=" .. urlencode(stream.name) ..
                 "&token=" .. urlencode(token) .. "&address=" .. urlencode(client.address)
    local reply, err = weir.http{url = url, method = "POST", body = body,
                                 headers = {["Content-Type"] = "application/x-www-form-urlencoded"}}
    if not reply then
      weir.warn("auth backend: " .. err)
      return weir.reject(nil, "the auth backend is unavailable")
    end
    if reply.status ~= 200 then
      return weir.reject(nil, "token rejected")
    end
    return true
  end
  if token ~= weir.env.secret then
    return weir.reject(nil, "token rejected")
  end
  return true
end

function on_publish(client, stream)
  return check(client, stream, "publish")
end

function on_play(client, stream)
  return check(client, stream, "play")
end
