-- SPDX-License-Identifier: Apache-2.0
-- A syntax error on line 5 (lua_apps_test.py: startup names it).
function on_connect(client, params)
  return weir.reject(  -- unclosed
end
