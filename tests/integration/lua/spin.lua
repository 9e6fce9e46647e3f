-- SPDX-License-Identifier: Apache-2.0
-- A runaway script: every connect spins forever (lua_apps_test.py: the server stops it).
function on_connect(client, params)
  while true do
    pcall(function() while true do end end)
  end
end
