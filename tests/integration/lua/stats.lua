-- SPDX-License-Identifier: Apache-2.0
-- mod_stats' figures read by a script (weir.stats.*, added by mod_stats through the lua service),
-- answered over HTTP: /apps/live/players?name=N, /apps/live/streams, /apps/live/server.
function on_http_request(request)
  if request.path == "/players" then
    local stream = weir.stats.stream(weir.app, request.args.name or "")
    if not stream then return {status = 404, body = "no such stream"} end
    return tostring(stream.players.total)
  elseif request.path == "/streams" then
    local names = {}
    for _, s in ipairs((weir.stats.streams() or {streams = {}}).streams) do names[#names + 1] = s.app .. "/" .. s.name end
    return table.concat(names, ",")
  elseif request.path == "/server" then
    local server = weir.stats.server()
    if not server then return {status = 503, body = "no sample yet"} end
    return "threads=" .. server.threads .. " accepting=" .. tostring(server.accepting)
  elseif request.path == "/bad" then
    local stream, err = weir.stats.stream(1)
    return tostring(stream) .. " " .. err
  end
  return {status = 404, body = "no such page"}
end
