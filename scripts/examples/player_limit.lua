-- SPDX-License-Identifier: Apache-2.0
-- A per-app limit on concurrent players, over every poll group (weir.count is shared by all
-- groups; the script's own tables are per group). In weir.conf:
--   [lua]
--   app.live = examples/player_limit.lua
--   env.max_players = 100
-- The player past the limit sees NetStream.Play.Failed "too many players".

local limit = tonumber(weir.env.max_players or "100")
local held = {}  -- client id -> slots it holds (on this group)

local function release(client, slots)
  if slots > 0 then
    weir.count("players", -slots)
    held[client.id] = (held[client.id] or 0) - slots
    if held[client.id] <= 0 then held[client.id] = nil end
  end
end

function on_play(client, stream)
  if not weir.count("players", 1, limit) then
    return weir.reject("NetStream.Play.Failed", "too many players (" .. limit .. ")")
  end
  held[client.id] = (held[client.id] or 0) + 1
  return true
end

function on_stop(client, stream)
  release(client, math.min(1, held[client.id] or 0))
end

function on_disconnect(client)
  release(client, held[client.id] or 0)
end

methods = {}
-- NetConnection.call("players"): how many play now, server-wide.
function methods.players(client)
  return weir.count("players", 0)
end
