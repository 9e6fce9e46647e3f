-- SPDX-License-Identifier: Apache-2.0
-- RTSP users and passwords: rtsp://alice:secret@host:8554/live/cam plays, other clients are asked
-- for credentials (401 with a Digest and a Basic challenge). In weir.conf:
--   [lua]
--   app.live = examples/rtsp_auth.lua
--   env.users = alice:secret bob:hunter2          ; user:password pairs (or look them up elsewhere)
-- Basic credentials come to the script with the password, which it checks; Digest ones come with
-- the user only: the script answers with that user's password (values.password, or values.ha1 =
-- MD5(user:Weir:password)) and the server checks the client's response against it.
-- RTMP clients of the app have no params.auth: they are let through here (add a token check).

local users = {}
for user, password in string.gmatch(weir.env.users or "", "([^%s:]+):(%S+)") do users[user] = password end

function on_connect(client, params)
  if params.protocol ~= "rtsp" then return true end
  local auth = params.auth
  if not auth then return weir.reject("401", "credentials needed") end
  local password = users[auth.user]
  if not password then return weir.reject("401", "unknown user " .. tostring(auth.user)) end
  if auth.scheme == "basic" and auth.password ~= password then
    return weir.reject("401", "wrong password for " .. auth.user)
  end
  return weir.accept{values = {user = auth.user, password = password}}
end
