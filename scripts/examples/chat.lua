-- SPDX-License-Identifier: Apache-2.0
-- A chat room on the shared object "chat": every client subscribes to it
-- (SharedObject.getRemote("chat", nc.uri) + connect(nc)) and speaks with
-- NetConnection.call("say", responder, text). In weir.conf:
--   [lua]
--   app.chat = examples/chat.lua
--   env.chat_history = 20                 ; messages kept for those who join later
-- A client names itself in the URL: rtmp://host/chat?name=ana (else "guest<id>").
--
-- The object "chat", seen by every client on every poll group:
--   slot "msg_<k>" = {seq =, from =, text =, at = ms}: the history, a ring of chat_history slots
--                    (message seq goes to slot seq % chat_history); sort by seq
--   slot "user_<id>" = name: who is in the room
--   send "message"(entry) for each message, "notice"(text) for joins and leaves
-- Each message takes its number from weir.count (one count for every group), and each slot has
-- one writer, so two clients speaking at once on two groups never overwrite each other.

local history = tonumber(weir.env.chat_history or "20")
local room = weir.shared_object("chat")
local max_text = 500

local function name_of(client)
  return client:get("name") or ("guest" .. client.id)
end

function on_connect(client, params)
  local name = params.args.name
  if name ~= nil and (#name == 0 or #name > 32 or name:find("[^%w_%-]")) then
    return false, "a name is 1 to 32 letters, digits, _ or -"
  end
  name = name or ("guest" .. client.id)
  client:set("name", name)
  room:set("user_" .. client.id, name)
  room:send("notice", name .. " joined")
end

function on_disconnect(client)
  room:remove("user_" .. client.id)
  room:send("notice", name_of(client) .. " left")
end

methods = {}

-- say(text) -> the message's number
function methods.say(client, text)
  if type(text) ~= "string" or #text == 0 or #text > max_text then
    return weir.reject("Chat.BadMessage", "a message is 1 to " .. max_text .. " bytes of text")
  end
  local seq = weir.count("messages", 1)
  local entry = {seq = seq, from = name_of(client), text = text, at = weir.now_ms()}
  local stored, err = room:set("msg_" .. (seq % history), entry)
  if not stored then return weir.reject("Chat.Failed", err) end
  room:send("message", entry)
  return seq
end

-- history() -> the kept messages, oldest first (what the object holds now, read on its owner)
function methods.history(client)
  local entries = {}
  for slot, value in pairs(room:get() or {}) do
    if slot:sub(1, 4) == "msg_" then entries[#entries + 1] = value end
  end
  table.sort(entries, function(a, b) return a.seq < b.seq end)
  return weir.array(entries)
end
