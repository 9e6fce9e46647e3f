-- SPDX-License-Identifier: Apache-2.0
-- Stream key -> stream name: a publisher's secret key (what OBS calls the stream key) names the
-- stream players see; the key itself is never playable. In weir.conf:
--   [lua]
--   app.live = examples/stream_keys.lua
--   env.stream_keys = sk_7f3a9c=studio, sk_e21b04=news
-- ffmpeg ... -f flv rtmp://host/live/sk_7f3a9c   is played as   rtmp://host/live/studio

local names = {}   -- key -> name
local is_key = {}  -- name -> true for the keys themselves
for key, name in string.gmatch(weir.env.stream_keys or "", "([^%s,=]+)%s*=%s*([^%s,]+)") do
  names[key] = name
  is_key[key] = true
end

function on_publish(client, stream)
  local name = names[stream.name]
  if not name then
    return weir.reject("NetStream.Publish.BadName", "unknown stream key")
  end
  weir.log("publisher " .. client.address .. " streams as " .. name)
  return weir.accept{name = name, values = {stream = name}}
end

function on_play(client, stream)
  if is_key[stream.name] then
    return weir.reject("NetStream.Play.StreamNotFound", "no such stream")
  end
  return true
end
