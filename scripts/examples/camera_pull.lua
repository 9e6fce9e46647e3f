-- SPDX-License-Identifier: Apache-2.0
-- Cameras pulled on demand, chosen by a script: a player of rtmp://host/live/door (or
-- rtsp://host:8554/live/door, or any protocol) that nobody publishes starts a pull from the
-- camera this script names for it, and plays it as soon as the camera answers. The pull stops
-- after [rtsp] pull_idle_timeout without players; the next player asks the script again.
-- In weir.conf:
--   [lua]
--   app.live = examples/camera_pull.lua
--   env.cameras = door=rtsp://10.0.0.7/h264 yard=rtsp://admin:secret@10.0.0.8:554/main
-- Names without a camera are "not found", as without the script. (For a fixed list, [rtsp]
-- pull.<app>/<name> does the same without a script; a script can look cameras up, check the
-- player's token first, or build the URL from the name.)

local cameras = {}
for name, url in string.gmatch(weir.env.cameras or "", "([^%s=]+)=(%S+)") do cameras[name] = url end

function on_stream_not_found(client, stream)
  local url = cameras[stream.name]
  if not url then return weir.reject(nil, stream.name .. " is neither published nor a camera") end
  weir.log("pulling " .. stream.name .. " for " .. client.address)
  return weir.accept{pull = url}
end
